#include "resources/migrate.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

namespace tasker::resources::detail {
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_migrations();
} // namespace tasker::resources::detail

namespace tasker::resources {

namespace {

// Any fixed 64-bit key works; every node uses the same one.
constexpr long long migration_lock_key = 7215806452203413011LL;

constexpr const char* ledger_ddl =
  "CREATE TABLE IF NOT EXISTS tasker_schema_migrations ("
  " version text PRIMARY KEY,"
  " applied_at timestamptz NOT NULL DEFAULT now())";

std::set<std::string> applied_versions(pqxx::transaction_base& tx) {
  std::set<std::string> out;
  auto exists = tx.exec1("SELECT to_regclass('tasker_schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>())
    return out;
  for (const auto& row : tx.exec("SELECT version FROM tasker_schema_migrations"))
    out.insert(row[0].as<std::string>());
  return out;
}

} // namespace

std::vector<migration> migrations() {
  std::vector<migration> out;
  for (const auto& [name, sql] : detail::embedded_migrations())
    out.push_back(migration{name, sql});
  std::sort(out.begin(), out.end(),
            [](const migration& a, const migration& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> apply_migrations(pqxx::connection& conn) {
  return apply_migrations(conn, {});
}

std::vector<std::string> apply_migrations(pqxx::connection& conn,
                                          std::string_view first_left_out) {
  std::vector<std::string> applied;
  {
    pqxx::nontransaction tx{conn};
    tx.exec_params("SELECT pg_advisory_lock($1)", migration_lock_key);
    tx.exec0(ledger_ddl);
  }
  try {
    std::set<std::string> done;
    {
      pqxx::read_transaction tx{conn};
      done = applied_versions(tx);
    }
    for (const auto& m : migrations()) {
      if (!first_left_out.empty() && m.name >= first_left_out)
        break;
      if (done.count(std::string{m.name}) > 0)
        continue;
      pqxx::work tx{conn};
      try {
        tx.exec0(std::string{m.sql});
      } catch (const pqxx::sql_error& e) {
        throw std::runtime_error("migration " + std::string{m.name} + " failed: " + e.what());
      }
      tx.exec_params0("INSERT INTO tasker_schema_migrations (version) VALUES ($1)",
                      std::string{m.name});
      tx.commit();
      applied.emplace_back(m.name);
    }
  } catch (...) {
    pqxx::nontransaction tx{conn};
    tx.exec_params("SELECT pg_advisory_unlock($1)", migration_lock_key);
    throw;
  }
  pqxx::nontransaction tx{conn};
  tx.exec_params("SELECT pg_advisory_unlock($1)", migration_lock_key);
  return applied;
}

bool is_migrated(pqxx::connection& conn) {
  pqxx::read_transaction tx{conn};
  auto done = applied_versions(tx);
  for (const auto& m : migrations())
    if (done.count(std::string{m.name}) == 0)
      return false;
  return true;
}

} // namespace tasker::resources
