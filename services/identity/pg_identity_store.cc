#include "identity/pg_identity_store.h"

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace admissions::identity {
namespace {

constexpr char kAccountColumns[] =
    "a.id::text, a.name, a.id_type, coalesce(a.id_number_sealed, ''), "
    "coalesce(a.phone_sealed, ''), coalesce(a.login_name, ''), a.password_hash, a.school_id, "
    "array_to_string(a.roles, ',')";

const std::string kSelectAccount = std::string("SELECT ") + kAccountColumns + " FROM accounts a ";

// Statement names.
constexpr char kInsertCode[] = "insert_code";
constexpr char kLatestCode[] = "latest_code";
constexpr char kCountAttempt[] = "count_attempt";
constexpr char kConsumeCode[] = "consume_code";
constexpr char kInsertOutbox[] = "insert_outbox";
constexpr char kListOutbox[] = "list_outbox";
constexpr char kInsertAccount[] = "insert_account";
constexpr char kFindByLogin[] = "find_by_login";
constexpr char kFindLoginName[] = "find_login_name";
constexpr char kUpdateHash[] = "update_hash";
constexpr char kInsertSession[] = "insert_session";
constexpr char kInsertRefresh[] = "insert_refresh";
constexpr char kLockRefresh[] = "lock_refresh";
constexpr char kUseRefresh[] = "use_refresh";
constexpr char kRevokeSession[] = "revoke_session";
constexpr char kRevokeAll[] = "revoke_all";
constexpr char kFindBySession[] = "find_by_session";
constexpr char kFindAccountById[] = "find_account_by_id";
constexpr char kExistsPhone[] = "exists_phone";
constexpr char kExistsIdNumber[] = "exists_id_number";

std::vector<PgStatement> Statements() {
  static const std::string find_by_login =
      kSelectAccount +
      "WHERE a.login_name = $1 OR a.phone_index = $2 OR a.id_number_index = $3 "
      "ORDER BY (a.login_name = $1) DESC NULLS LAST LIMIT 1";
  static const std::string find_by_session =
      kSelectAccount +
      "JOIN sessions s ON s.account_id = a.id "
      "WHERE a.id = $1::uuid AND s.id = $2::uuid AND s.revoked_at IS NULL "
      "AND s.expires_at > now()";
  static const std::string find_by_id = kSelectAccount + "WHERE a.id = $1::uuid";
  return {
      {kInsertCode,
       "INSERT INTO sms_codes (phone_index, purpose, code_hash, expires_at) "
       "VALUES ($1, $2, $3, now() + make_interval(secs => $4))"},
      {kLatestCode,
       "SELECT id, code_hash, expires_at > now(), attempts, consumed_at IS NOT NULL "
       "FROM sms_codes WHERE phone_index = $1 AND purpose = $2 ORDER BY id DESC LIMIT 1 "
       "FOR UPDATE"},
      {kCountAttempt, "UPDATE sms_codes SET attempts = attempts + 1 WHERE id = $1"},
      {kConsumeCode, "UPDATE sms_codes SET consumed_at = now() WHERE id = $1"},
      {kInsertOutbox,
       "INSERT INTO sms_outbox (phone_index, phone_sealed, purpose, code_sealed) "
       "VALUES ($1, $2, $3, $4)"},
      {kListOutbox,
       "SELECT phone_sealed, purpose, code_sealed, extract(epoch FROM sent_at)::float8 "
       "FROM sms_outbox WHERE phone_index = $1 ORDER BY id DESC LIMIT $2"},
      {kInsertAccount,
       "INSERT INTO accounts (name, id_type, id_number_sealed, id_number_index, phone_sealed, "
       "phone_index, login_name, password_hash, school_id, roles) VALUES ($1, $2, "
       "NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), $8, $9, "
       "string_to_array($10, ',')) RETURNING id::text"},
      {kFindByLogin, find_by_login.c_str()},
      {kFindLoginName, "SELECT 1 FROM accounts WHERE login_name = $1"},
      {kUpdateHash,
       "UPDATE accounts SET password_hash = $2, password_changed_at = now() "
       "WHERE id = $1::uuid"},
      {kInsertSession,
       "INSERT INTO sessions (account_id, expires_at) "
       "VALUES ($1::uuid, now() + make_interval(secs => $2)) RETURNING id::text"},
      {kInsertRefresh,
       "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) "
       "SELECT $1, id, expires_at FROM sessions WHERE id = $2::uuid"},
      {kLockRefresh,
       "SELECT r.session_id::text, r.used_at IS NOT NULL, r.expires_at > now(), "
       "s.revoked_at IS NOT NULL, s.account_id::text "
       "FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id "
       "WHERE r.token_hash = $1 FOR UPDATE OF r, s"},
      {kUseRefresh, "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1"},
      {kRevokeSession,
       "UPDATE sessions SET revoked_at = now(), revoke_reason = $3 "
       "WHERE id = $1::uuid AND account_id = $2::uuid AND revoked_at IS NULL RETURNING id"},
      {kRevokeAll,
       "UPDATE sessions SET revoked_at = now(), revoke_reason = $2 "
       "WHERE account_id = $1::uuid AND revoked_at IS NULL RETURNING id::text"},
      {kFindBySession, find_by_session.c_str()},
      {kFindAccountById, find_by_id.c_str()},
      {kExistsPhone, "SELECT 1 FROM accounts WHERE phone_index = $1"},
      {kExistsIdNumber, "SELECT 1 FROM accounts WHERE id_number_index = $1"},
  };
}

Account ReadAccount(const pqxx::row& r) {
  Account a;
  a.id = r[0].as<std::string>();
  a.name = r[1].as<std::string>();
  a.id_type = r[2].as<int>();
  a.id_number_sealed = r[3].as<std::string>();
  a.phone_sealed = r[4].as<std::string>();
  a.login_name = r[5].as<std::string>();
  a.password_hash = r[6].as<std::string>();
  a.school_id = r[7].as<std::string>();
  a.roles = absl::StrSplit(r[8].as<std::string>(), ',', absl::SkipEmpty());
  return a;
}

// Checks the latest code for (phone, purpose) inside `tx`; consumes it when right.
CodeOutcome CheckCode(pqxx::work& tx, const CodeCheck& code) {
  auto rows = tx.exec_prepared(kLatestCode, code.phone_index, code.purpose);
  if (rows.empty()) return CodeOutcome::kMissing;
  const auto& r = rows[0];
  int64_t id = r[0].as<int64_t>();
  if (r[4].as<bool>()) return CodeOutcome::kMissing;
  if (r[3].as<int>() >= code.max_attempts) return CodeOutcome::kExhausted;
  if (!r[2].as<bool>()) return CodeOutcome::kExpired;
  if (r[1].as<std::string>() != code.code_hash) {
    tx.exec_prepared0(kCountAttempt, id);
    return CodeOutcome::kWrong;
  }
  tx.exec_prepared0(kConsumeCode, id);
  return CodeOutcome::kAccepted;
}

absl::Status Duplicate(std::string_view field, std::string_view what) {
  return Error(absl::StatusCode::kAlreadyExists, reason::kAlreadyExists,
               std::string(what) + " is already registered", {{"field", std::string(field)}});
}

}  // namespace

PgIdentityStore::PgIdentityStore(const std::string& uri, int pool_size)
    : pool_(uri, "identity", pool_size, Statements()) {}

absl::Status PgIdentityStore::SaveSmsCode(const std::string& phone_index, int purpose,
                                          const std::string& code_hash, absl::Duration ttl) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared0(kInsertCode, phone_index, purpose, code_hash, absl::ToDoubleSeconds(ttl));
    return absl::OkStatus();
  });
}

absl::Status PgIdentityStore::AppendOutbox(const std::string& phone_index,
                                           const std::string& phone_sealed, int purpose,
                                           const std::string& code_sealed) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared0(kInsertOutbox, phone_index, phone_sealed, purpose, code_sealed);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<OutboxRow>> PgIdentityStore::ListOutbox(const std::string& phone_index,
                                                                   int limit) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::vector<OutboxRow>> {
    std::vector<OutboxRow> out;
    for (const auto& r : tx.exec_prepared(kListOutbox, phone_index, limit)) {
      OutboxRow row;
      row.phone_sealed = r[0].as<std::string>();
      row.purpose = r[1].as<int>();
      row.code_sealed = r[2].as<std::string>();
      row.sent_at = absl::FromUnixMicros(static_cast<int64_t>(r[3].as<double>() * 1e6));
      out.push_back(std::move(row));
    }
    return out;
  });
}

absl::StatusOr<std::pair<CodeOutcome, std::string>> PgIdentityStore::RegisterWithCode(
    const CodeCheck& code, const NewAccount& a) {
  using Result = std::pair<CodeOutcome, std::string>;
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<Result> {
    CodeOutcome outcome = CheckCode(tx, code);
    if (outcome != CodeOutcome::kAccepted) return Result{outcome, ""};
    if (!tx.exec_prepared(kExistsPhone, a.phone_index).empty()) {
      return Duplicate("phone", "this phone number");
    }
    if (!tx.exec_prepared(kExistsIdNumber, a.id_number_index).empty()) {
      return Duplicate("idNumber", "this ID number");
    }
    try {
      auto row = tx.exec_prepared1(kInsertAccount, a.name, a.id_type, a.id_number_sealed,
                                   a.id_number_index, a.phone_sealed, a.phone_index, a.login_name,
                                   a.password_hash, a.school_id, absl::StrJoin(a.roles, ","));
      return Result{CodeOutcome::kAccepted, row[0].as<std::string>()};
    } catch (const pqxx::unique_violation& e) {
      // Lost a race with a concurrent registration of the same phone or ID number.
      std::string_view what = e.what();
      if (what.find("phone_index") != std::string_view::npos) {
        return Duplicate("phone", "this phone number");
      }
      return Duplicate("idNumber", "this ID number");
    }
  });
}

absl::Status PgIdentityStore::EnsureStaffAccount(const NewAccount& a) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (!tx.exec_prepared(kFindLoginName, a.login_name).empty()) return absl::OkStatus();
    tx.exec_prepared1(kInsertAccount, a.name, a.id_type, a.id_number_sealed, a.id_number_index,
                      a.phone_sealed, a.phone_index, a.login_name, a.password_hash, a.school_id,
                      absl::StrJoin(a.roles, ","));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<Account>> PgIdentityStore::FindByLogin(const std::string& login_name,
                                                                    const std::string& phone_index,
                                                                    const std::string& id_index) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::optional<Account>> {
    auto rows = tx.exec_prepared(kFindByLogin, login_name, phone_index, id_index);
    if (rows.empty()) return std::optional<Account>();
    return std::optional<Account>(ReadAccount(rows[0]));
  });
}

absl::Status PgIdentityStore::UpdatePasswordHash(const std::string& account_id,
                                                 const std::string& hash) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared0(kUpdateHash, account_id, hash);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> PgIdentityStore::CreateSession(const std::string& account_id,
                                                           const std::string& refresh_hash,
                                                           absl::Duration lifetime) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    auto row = tx.exec_prepared1(kInsertSession, account_id, absl::ToDoubleSeconds(lifetime));
    std::string session_id = row[0].as<std::string>();
    tx.exec_prepared0(kInsertRefresh, refresh_hash, session_id);
    return session_id;
  });
}

absl::StatusOr<RefreshResult> PgIdentityStore::RotateRefreshToken(const std::string& old_hash,
                                                                  const std::string& new_hash) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<RefreshResult> {
    RefreshResult result;
    auto rows = tx.exec_prepared(kLockRefresh, old_hash);
    if (rows.empty()) return result;  // kUnknown
    const auto& r = rows[0];
    result.session_id = r[0].as<std::string>();
    bool used = r[1].as<bool>(), live = r[2].as<bool>(), revoked = r[3].as<bool>();
    std::string account_id = r[4].as<std::string>();
    if (revoked) {
      result.outcome = RefreshOutcome::kRevoked;
      return result;
    }
    if (used) {
      // A rotated token came back: someone holds a copy. End the session.
      tx.exec_prepared(kRevokeSession, result.session_id, account_id, "refresh token reused");
      result.outcome = RefreshOutcome::kReused;
      return result;
    }
    if (!live) {
      result.outcome = RefreshOutcome::kExpired;
      return result;
    }
    tx.exec_prepared0(kUseRefresh, old_hash);
    tx.exec_prepared0(kInsertRefresh, new_hash, result.session_id);
    auto acc = tx.exec_prepared(kFindAccountById, account_id);
    if (acc.empty()) return result;
    result.account = ReadAccount(acc[0]);
    result.outcome = RefreshOutcome::kRotated;
    return result;
  });
}

absl::StatusOr<bool> PgIdentityStore::RevokeSession(const std::string& session_id,
                                                    const std::string& account_id,
                                                    const std::string& reason) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    return !tx.exec_prepared(kRevokeSession, session_id, account_id, reason).empty();
  });
}

absl::StatusOr<PasswordResetResult> PgIdentityStore::ResetPasswordWithCode(
    const CodeCheck& code, const std::string& account_id, const std::string& new_hash) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<PasswordResetResult> {
    PasswordResetResult result;
    result.outcome = CheckCode(tx, code);
    if (result.outcome != CodeOutcome::kAccepted) return result;
    tx.exec_prepared0(kUpdateHash, account_id, new_hash);
    for (const auto& r : tx.exec_prepared(kRevokeAll, account_id, "password reset")) {
      result.revoked_sessions.push_back(r[0].as<std::string>());
    }
    return result;
  });
}

absl::StatusOr<std::optional<Account>> PgIdentityStore::FindBySession(
    const std::string& account_id, const std::string& session_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::optional<Account>> {
    auto rows = tx.exec_prepared(kFindBySession, account_id, session_id);
    if (rows.empty()) return std::optional<Account>();
    return std::optional<Account>(ReadAccount(rows[0]));
  });
}

}  // namespace admissions::identity
