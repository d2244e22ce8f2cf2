#include "common/pg.h"

#include "common/log.h"

namespace admissions {

absl::Status TranslatePgException(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const pqxx::unique_violation& ex) {
    return Error(absl::StatusCode::kAlreadyExists, reason::kAlreadyExists, "already exists");
  } catch (const pqxx::serialization_failure& ex) {
    return absl::AbortedError("serialization failure");
  } catch (const pqxx::deadlock_detected& ex) {
    return absl::AbortedError("deadlock");
  } catch (const pqxx::in_doubt_error& ex) {
    Log(LogLevel::kError, "pg_in_doubt", {{"error", ex.what()}});
    return Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
                 "the database did not confirm the change; check before retrying");
  } catch (const pqxx::broken_connection& ex) {
    Log(LogLevel::kWarn, "pg_broken_connection", {{"error", ex.what()}});
    return Error(absl::StatusCode::kUnavailable, reason::kUnavailable, "database unavailable");
  } catch (const pqxx::sql_error& ex) {
    Log(LogLevel::kError, "pg_sql_error", {{"error", ex.what()}, {"sqlstate", ex.sqlstate()}});
    return Error(absl::StatusCode::kInternal, reason::kInternal, "internal error");
  } catch (const std::exception& ex) {
    Log(LogLevel::kError, "pg_error", {{"error", ex.what()}});
    return Error(absl::StatusCode::kInternal, reason::kInternal, "internal error");
  }
}

PgPool::PgPool(std::string uri, std::string schema, int size, std::vector<PgStatement> statements,
               std::chrono::milliseconds acquire_timeout)
    : uri_(std::move(uri)),
      schema_(std::move(schema)),
      statements_(std::move(statements)),
      acquire_timeout_(acquire_timeout),
      capacity_(size) {}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Open() {
  try {
    auto c = std::make_unique<pqxx::connection>(uri_);
    {
      pqxx::nontransaction tx(*c);
      tx.exec("SET search_path TO " + tx.quote_name(schema_) + ", public");
    }
    for (const auto& st : statements_) c->prepare(st.name, st.sql);
    return c;
  } catch (...) {
    return TranslatePgException(std::current_exception());
  }
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, acquire_timeout_,
                      [this] { return !idle_.empty() || outstanding_ < capacity_; })) {
      return Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
                   "no database connection free");
    }
    ++outstanding_;
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  auto c = Open();
  if (!c.ok()) Release(nullptr);
  return c;
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  --outstanding_;
  if (conn) idle_.push_back(std::move(conn));
  cv_.notify_one();
}

bool PgPool::Ping() {
  auto st = Transact([](pqxx::work& tx) -> absl::Status {
    tx.exec("SELECT 1");
    return absl::OkStatus();
  });
  return st.ok();
}

}  // namespace admissions
