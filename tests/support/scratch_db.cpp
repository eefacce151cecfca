#include "tests/support/scratch_db.hpp"

#include "resources/migrate.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <unistd.h>

namespace tasker::testing {

std::string server_url() {
  const char* url = std::getenv("TASKER_DATABASE_URL");
  if (url == nullptr || *url == '\0')
    throw std::runtime_error(
      "TASKER_DATABASE_URL is not set: run the suite through tools/test.sh, "
      "which starts a throwaway PostgreSQL and sets it");
  return url;
}

std::string with_database(const std::string& url, const std::string& dbname) {
  // postgresql://user@host:port/dbname?params
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return url + " dbname=" + dbname; // key=value form: a later key wins
  auto query = url.find('?', scheme + 3);
  auto path = url.find('/', scheme + 3);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  std::string head = url.substr(0, std::min(path, query));
  return head + "/" + dbname + tail;
}

namespace {

std::string unique_name() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "tasker_t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_"
         + std::to_string(rd() % 100000);
}

} // namespace

scratch_db::scratch_db(bool migrate) : name_(unique_name()) {
  auto admin_url = with_database(server_url(), "postgres");
  {
    pqxx::connection admin{admin_url};
    pqxx::nontransaction tx{admin};
    tx.exec0("CREATE DATABASE " + tx.quote_name(name_));
  }
  url_ = with_database(server_url(), name_);
  if (migrate) {
    pqxx::connection conn{url_};
    resources::apply_migrations(conn);
  }
}

scratch_db::~scratch_db() {
  try {
    pqxx::connection admin{with_database(server_url(), "postgres")};
    pqxx::nontransaction tx{admin};
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // A database left behind is removed with the cluster; never throw here.
  }
}

} // namespace tasker::testing
