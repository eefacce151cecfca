#include "config/redact.hpp"

#include <doctest/doctest.h>

using tasker::config::redact_setting;
using tasker::config::redact_url;

TEST_CASE("redact_url hides the password of a postgresql URL and keeps the rest") {
  CHECK(redact_url("postgresql://tasker:s3cret@db.example:5432/tasker?sslmode=require") ==
        "postgresql://tasker:***@db.example:5432/tasker?sslmode=require");
  CHECK(redact_url("postgres://u:p@ss@host/db") == "postgres://u:***@host/db");
}

TEST_CASE("redact_url hides password parameters in query strings and key=value strings") {
  CHECK(redact_url("postgresql://host/db?user=u&password=hunter2&sslmode=disable") ==
        "postgresql://host/db?user=u&password=***&sslmode=disable");
  CHECK(redact_url("host=db user=u password=hunter2 dbname=x") ==
        "host=db user=u password=*** dbname=x");
  CHECK(redact_url("host=db password='a b c' dbname=x") == "host=db password=*** dbname=x");
}

TEST_CASE("redact_url leaves a URL without a password unchanged") {
  CHECK(redact_url("postgresql://postgres@127.0.0.1:5432/postgres") ==
        "postgresql://postgres@127.0.0.1:5432/postgres");
  CHECK(redact_url("") == "");
}

TEST_CASE("redact_setting masks the TLS passphrase and the database password, nothing else") {
  CHECK(redact_setting("telemetry.inspector.tls.passphrase", "\"open-sesame\"") == "\"***\"");
  CHECK(redact_setting("telemetry.inspector.tls.passphrase", "open-sesame") == "***");
  CHECK(redact_setting("telemetry.inspector.tls.passphrase", "\"\"") == "\"\"");
  CHECK(redact_setting("database.url", "\"postgresql://u:pw@db/x\"") ==
        "\"postgresql://u:***@db/x\"");
  CHECK(redact_setting("telemetry.inspector.tls.key", "\"/etc/tasker/node.key\"") ==
        "\"/etc/tasker/node.key\"");
}
