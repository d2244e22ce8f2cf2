#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace admissions {

/// One plain SQL file of a service, e.g. {"0001_accounts.sql", "CREATE TABLE ..."}.
struct Migration {
  const char* name;
  const char* sql;
};

/// Applies, in name order, each migration not yet recorded in
/// `<schema>.schema_migrations`, each in its own transaction with search_path set
/// to `schema`, under a PostgreSQL advisory lock so that replicas starting together
/// apply each exactly once. Creates the schema when missing.
absl::Status ApplyMigrations(const std::string& uri, const std::string& schema,
                             const std::vector<Migration>& migrations);

}  // namespace admissions
