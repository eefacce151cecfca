#pragma once
/// A throwaway PostgreSQL database for one test: created (and migrated) from
/// the server named by TASKER_DATABASE_URL, dropped when the fixture ends.

#include <pqxx/pqxx>

#include <string>

namespace tasker::testing {

/// The server URL from TASKER_DATABASE_URL; fails the test when it is unset.
std::string server_url();

/// A fresh database, migrated to the latest schema unless `migrate` is false.
class scratch_db {
public:
  explicit scratch_db(bool migrate = true);
  ~scratch_db();
  scratch_db(const scratch_db&) = delete;
  scratch_db& operator=(const scratch_db&) = delete;

  /// The database's name.
  const std::string& name() const { return name_; }

  /// A libpq URL that points at this database.
  const std::string& url() const { return url_; }

  /// Opens a new connection to this database.
  pqxx::connection connect() const { return pqxx::connection{url_}; }

private:
  std::string name_;
  std::string url_;
};

/// Replaces (or appends) the database name in a libpq URL.
std::string with_database(const std::string& url, const std::string& dbname);

} // namespace tasker::testing
