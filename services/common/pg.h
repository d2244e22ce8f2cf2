#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status.h"

namespace admissions {

/// A named statement prepared on every connection when it is opened.
struct PgStatement {
  const char* name;
  const char* sql;
};

/// Maps a libpqxx exception to a status by its type: unique_violation →
/// ALREADY_EXISTS, broken_connection → UNAVAILABLE, serialization_failure and
/// deadlock → ABORTED, in_doubt → UNAVAILABLE, anything else → INTERNAL.
/// The database's message is logged, never returned to a client.
absl::Status TranslatePgException(std::exception_ptr e);

/// A small fixed pool of libpqxx connections (libpqxx has none). Blocking: use it
/// from an executor thread. Each connection sets search_path to the service's
/// schema and prepares every statement once.
class PgPool {
 public:
  PgPool(std::string uri, std::string schema, int size, std::vector<PgStatement> statements,
         std::chrono::milliseconds acquire_timeout = std::chrono::milliseconds(3000));

  /// Runs `fn(pqxx::work&)` in a transaction and commits when it returns OK; any
  /// error rolls back. `fn` returns absl::Status or absl::StatusOr<T>. Serialization
  /// failures and deadlocks are retried (up to 3 attempts); broken connections are
  /// replaced. The isolation is the server default (read committed) unless the
  /// statements lock rows themselves.
  template <typename Fn>
  auto Transact(Fn&& fn) -> std::invoke_result_t<Fn&, pqxx::work&>;

  /// Runs `fn(pqxx::transaction_base&)` without BEGIN/COMMIT (each statement commits
  /// on its own): one round trip for a single read. Only for reads.
  template <typename Fn>
  auto Read(Fn&& fn) -> std::invoke_result_t<Fn&, pqxx::transaction_base&>;

  /// True when a connection can be had and answers SELECT 1.
  bool Ping();

 private:
  class Lease;
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Open();
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);

  std::string uri_;
  std::string schema_;
  std::vector<PgStatement> statements_;
  std::chrono::milliseconds acquire_timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int capacity_;
  int outstanding_ = 0;
};

template <typename Fn>
auto PgPool::Transact(Fn&& fn) -> std::invoke_result_t<Fn&, pqxx::work&> {
  using Result = std::invoke_result_t<Fn&, pqxx::work&>;
  constexpr int kAttempts = 3;
  absl::Status last;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    auto conn = Acquire();
    if (!conn.ok()) return Result(conn.status());
    std::unique_ptr<pqxx::connection> c = *std::move(conn);
    try {
      Result result;
      {
        // The transaction ends (commit, or rollback in its destructor) before the
        // connection goes back to the pool, where another thread may take it.
        pqxx::work tx(*c);
        result = fn(tx);
        if (result.ok()) tx.commit();
      }
      Release(std::move(c));
      return result;
    } catch (...) {
      last = TranslatePgException(std::current_exception());
      bool usable = c->is_open();
      Release(usable ? std::move(c) : nullptr);
      if (last.code() != absl::StatusCode::kAborted) return Result(last);
    }
  }
  return Result(last);
}

template <typename Fn>
auto PgPool::Read(Fn&& fn) -> std::invoke_result_t<Fn&, pqxx::transaction_base&> {
  using Result = std::invoke_result_t<Fn&, pqxx::transaction_base&>;
  absl::Status last;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto conn = Acquire();
    if (!conn.ok()) return Result(conn.status());
    std::unique_ptr<pqxx::connection> c = *std::move(conn);
    try {
      Result result;
      {
        pqxx::nontransaction tx(*c);
        result = fn(tx);
      }
      Release(std::move(c));
      return result;
    } catch (...) {
      last = TranslatePgException(std::current_exception());
      bool usable = c->is_open();
      Release(usable ? std::move(c) : nullptr);
      // A connection that broke while idle in the pool gets one more try.
      if (usable || last.code() != absl::StatusCode::kUnavailable) return Result(last);
    }
  }
  return Result(last);
}

}  // namespace admissions
