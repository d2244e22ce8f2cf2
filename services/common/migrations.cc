#include "common/migrations.h"

#include <pqxx/pqxx>

#include "common/log.h"
#include "common/pg.h"

namespace admissions {

absl::Status ApplyMigrations(const std::string& uri, const std::string& schema,
                             const std::vector<Migration>& migrations) {
  try {
    pqxx::connection conn(uri);
    const std::string lock_key = "migrations:" + schema;
    {
      pqxx::nontransaction tx(conn);
      tx.exec_params("SELECT pg_advisory_lock(hashtext($1))", lock_key);
    }
    absl::Status result = absl::OkStatus();
    try {
      {
        pqxx::work tx(conn);
        tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(schema));
        tx.exec("CREATE TABLE IF NOT EXISTS " + tx.quote_name(schema) +
                ".schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL "
                "DEFAULT now())");
        tx.commit();
      }
      for (const Migration& m : migrations) {
        pqxx::work tx(conn);
        tx.exec("SET LOCAL search_path TO " + tx.quote_name(schema) + ", public");
        auto done = tx.exec_params("SELECT 1 FROM schema_migrations WHERE name = $1", m.name);
        if (!done.empty()) continue;
        tx.exec(m.sql);
        tx.exec_params("INSERT INTO schema_migrations (name) VALUES ($1)", m.name);
        tx.commit();
        Log(LogLevel::kInfo, "migration_applied", {{"schema", schema}, {"name", m.name}});
      }
    } catch (...) {
      result = TranslatePgException(std::current_exception());
    }
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_unlock(hashtext($1))", lock_key);
    return result;
  } catch (...) {
    return TranslatePgException(std::current_exception());
  }
}

}  // namespace admissions
