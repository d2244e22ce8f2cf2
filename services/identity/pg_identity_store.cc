#include "identity/pg_identity_store.h"

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace admissions::identity {
namespace {

constexpr char kAccountColumns[] =
    "a.id::text, a.name, a.id_type, coalesce(a.id_number_sealed, ''), "
    "coalesce(a.phone_sealed, ''), coalesce(a.login_name, ''), a.password_hash, a.school_id, "
    "array_to_string(a.roles, ','), a.face_verified_at IS NOT NULL, "
    "(SELECT coalesce(max(x.version), 0) FROM agreement_acceptances x "
    "WHERE x.account_id = a.id)";

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
constexpr char kInsertAudit[] = "insert_audit";
constexpr char kCurrentAgreement[] = "current_agreement";
constexpr char kInsertAgreement[] = "insert_agreement";
constexpr char kInsertAcceptance[] = "insert_acceptance";
constexpr char kGates[] = "gates";
constexpr char kInsertVerification[] = "insert_verification";
constexpr char kFindVerification[] = "find_verification";
constexpr char kLockByQr[] = "lock_by_qr";
constexpr char kMarkScanned[] = "mark_scanned";
constexpr char kInsertNonce[] = "insert_nonce";
constexpr char kLockVerification[] = "lock_verification";
constexpr char kFinishVerification[] = "finish_verification";
constexpr char kMarkFaceVerified[] = "mark_face_verified";
constexpr char kCountFailure[] = "count_failure";
constexpr char kOpenReview[] = "open_review";
constexpr char kOpenReviews[] = "open_reviews";
constexpr char kDecideReview[] = "decide_review";
constexpr char kResetFailures[] = "reset_failures";
constexpr char kRoomVerified[] = "room_verified";

std::vector<PgStatement> Statements() {
  static const std::string find_by_login =
      kSelectAccount +
      "WHERE a.login_name = $1 OR a.phone_index = $2 OR a.id_number_index = $3 "
      "ORDER BY (a.login_name = $1) DESC NULLS LAST LIMIT 1";
  static const std::string find_by_session =
      std::string("SELECT ") + kAccountColumns +
      ", (SELECT coalesce(max(version), 0) FROM agreements), EXISTS (SELECT 1 FROM "
      "manual_reviews r WHERE r.account_id = a.id AND r.decided_at IS NULL) FROM accounts a "
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
      {kInsertAudit,
       "INSERT INTO audit_events (kind, account_id, actor_id, detail, request_id, ip) "
       "VALUES ($1, NULLIF($2, '')::uuid, NULLIF($3, '')::uuid, $4, $5, $6)"},
      {kCurrentAgreement,
       "SELECT version, title, body, extract(epoch FROM published_at)::float8 FROM agreements "
       "ORDER BY version DESC LIMIT 1"},
      {kInsertAgreement,
       "INSERT INTO agreements (title, body, published_by) VALUES ($1, $2, NULLIF($3, '')::uuid) "
       "RETURNING version"},
      {kInsertAcceptance,
       "INSERT INTO agreement_acceptances (account_id, version) SELECT $1::uuid, $2 "
       "WHERE $2 = (SELECT max(version) FROM agreements) ON CONFLICT DO NOTHING "
       "RETURNING version"},
      {kGates,
       "SELECT (SELECT coalesce(max(version), 0) FROM agreement_acceptances "
       "WHERE account_id = a.id), (SELECT coalesce(max(version), 0) FROM agreements), "
       "a.face_verified_at IS NOT NULL, EXISTS (SELECT 1 FROM manual_reviews r "
       "WHERE r.account_id = a.id AND r.decided_at IS NULL), a.face_failures "
       "FROM accounts a WHERE a.id = $1::uuid"},
      {kInsertVerification,
       "INSERT INTO verifications (account_id, session_id, purpose, room_id, status, "
       "qr_token_hash, expires_at) VALUES ($1::uuid, $2::uuid, $3, $4, 1, $5, "
       "now() + make_interval(secs => $6)) "
       "RETURNING id::text, extract(epoch FROM expires_at)::float8"},
      {kFindVerification,
       "SELECT v.id::text, v.account_id::text, v.session_id::text, v.room_id, v.purpose, "
       "CASE WHEN v.status IN (1, 2) AND v.expires_at <= now() THEN 5 ELSE v.status END, "
       "extract(epoch FROM v.expires_at)::float8, "
       "coalesce(extract(epoch FROM v.finished_at)::float8, 0), a.face_failures "
       "FROM verifications v JOIN accounts a ON a.id = v.account_id WHERE v.id = $1::uuid"},
      {kLockByQr,
       "SELECT v.id::text, v.account_id::text, v.status, v.expires_at > now(), "
       "s.revoked_at IS NULL AND s.expires_at > now() "
       "FROM verifications v JOIN sessions s ON s.id = v.session_id "
       "WHERE v.qr_token_hash = $1 FOR UPDATE OF v"},
      {kMarkScanned, "UPDATE verifications SET status = 2, scanned_at = now() WHERE id = $1::uuid"},
      {kInsertNonce,
       "INSERT INTO face_callback_nonces (nonce) VALUES ($1) ON CONFLICT DO NOTHING "
       "RETURNING nonce"},
      {kLockVerification,
       "SELECT account_id::text, status, purpose FROM verifications WHERE id = $1::uuid "
       "FOR UPDATE"},
      {kFinishVerification,
       "UPDATE verifications SET status = $2, finished_at = now(), score = $3, "
       "provider_ref = $4 WHERE id = $1::uuid"},
      {kMarkFaceVerified,
       "UPDATE accounts SET face_verified_at = coalesce(face_verified_at, now()) "
       "WHERE id = $1::uuid"},
      {kCountFailure,
       "UPDATE accounts SET face_failures = face_failures + 1 WHERE id = $1::uuid "
       "RETURNING face_failures"},
      {kOpenReview,
       "INSERT INTO manual_reviews (account_id, failures) VALUES ($1::uuid, $2) "
       "ON CONFLICT (account_id) WHERE decided_at IS NULL DO NOTHING RETURNING id"},
      {kOpenReviews,
       "SELECT r.account_id::text, a.name, coalesce(a.id_number_sealed, ''), r.failures, "
       "extract(epoch FROM r.created_at)::float8 FROM manual_reviews r "
       "JOIN accounts a ON a.id = r.account_id WHERE r.decided_at IS NULL ORDER BY r.id"},
      {kDecideReview,
       "UPDATE manual_reviews SET decided_at = now(), decided_by = NULLIF($2, '')::uuid, "
       "approved = $3, reason = $4 WHERE account_id = $1::uuid AND decided_at IS NULL "
       "RETURNING id"},
      {kResetFailures, "UPDATE accounts SET face_failures = 0 WHERE id = $1::uuid"},
      {kRoomVerified,
       "SELECT extract(epoch FROM finished_at)::float8 FROM verifications "
       "WHERE account_id = $1::uuid AND room_id = $2 AND purpose = 2 AND status = 3 "
       "AND finished_at > to_timestamp($4) AND ($3 = '' OR id::text = $3) "
       "ORDER BY finished_at DESC LIMIT 1"},
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
  a.face_verified = r[9].as<bool>();
  a.agreement_version = r[10].as<int>();
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

absl::Time FromEpoch(double seconds) {
  return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
}

void Audit(pqxx::work& tx, const AuditEvent& e) {
  tx.exec_prepared0(kInsertAudit, e.kind, e.account_id, e.actor_id, e.detail, e.request_id, e.ip);
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
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<OutboxRow>> {
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
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<Account>> {
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
                                                           absl::Duration lifetime,
                                                           const AuditEvent& audit,
                                                           const std::string& new_password_hash) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    if (!new_password_hash.empty()) tx.exec_prepared0(kUpdateHash, account_id, new_password_hash);
    auto row = tx.exec_prepared1(kInsertSession, account_id, absl::ToDoubleSeconds(lifetime));
    std::string session_id = row[0].as<std::string>();
    tx.exec_prepared0(kInsertRefresh, refresh_hash, session_id);
    Audit(tx, audit);
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
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<Account>> {
    auto rows = tx.exec_prepared(kFindBySession, account_id, session_id);
    if (rows.empty()) return std::optional<Account>();
    Account a = ReadAccount(rows[0]);
    a.current_agreement_version = rows[0][11].as<int>();
    a.manual_review = rows[0][12].as<bool>();
    return std::optional<Account>(std::move(a));
  });
}

absl::StatusOr<std::optional<Account>> PgIdentityStore::FindById(const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<Account>> {
    auto rows = tx.exec_prepared(kFindAccountById, account_id);
    if (rows.empty()) return std::optional<Account>();
    return std::optional<Account>(ReadAccount(rows[0]));
  });
}

absl::StatusOr<CodeOutcome> PgIdentityStore::ConsumeCode(const CodeCheck& code) {
  return pool_.Transact(
      [&](pqxx::work& tx) -> absl::StatusOr<CodeOutcome> { return CheckCode(tx, code); });
}

absl::StatusOr<std::string> PgIdentityStore::CreateStaffAccount(const NewAccount& a) {
  auto taken = [] {
    return Error(absl::StatusCode::kAlreadyExists, reason::kAlreadyExists, "this login is taken",
                 {{"field", "login"}});
  };
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    if (!tx.exec_prepared(kFindLoginName, a.login_name).empty()) return taken();
    try {
      auto row = tx.exec_prepared1(kInsertAccount, a.name, a.id_type, a.id_number_sealed,
                                   a.id_number_index, a.phone_sealed, a.phone_index, a.login_name,
                                   a.password_hash, a.school_id, absl::StrJoin(a.roles, ","));
      return row[0].as<std::string>();
    } catch (const pqxx::unique_violation&) {
      // Lost a race with a concurrent creation of the same login.
      return taken();
    }
  });
}

absl::Status PgIdentityStore::AppendAudit(const AuditEvent& event) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    Audit(tx, event);
    return absl::OkStatus();
  });
}

absl::StatusOr<AgreementRow> PgIdentityStore::CurrentAgreement() {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<AgreementRow> {
    auto rows = tx.exec_prepared(kCurrentAgreement);
    if (rows.empty()) {
      return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no agreement is published");
    }
    AgreementRow a;
    a.version = rows[0][0].as<int>();
    a.title = rows[0][1].as<std::string>();
    a.text = rows[0][2].as<std::string>();
    a.published_at = FromEpoch(rows[0][3].as<double>());
    return a;
  });
}

absl::StatusOr<int> PgIdentityStore::PublishAgreement(const std::string& title,
                                                      const std::string& text,
                                                      const std::string& by) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<int> {
    int version = tx.exec_prepared1(kInsertAgreement, title, text, by)[0].as<int>();
    Audit(tx, AuditEvent{"AGREEMENT_PUBLISHED", "", by, "version " + std::to_string(version)});
    return version;
  });
}

absl::StatusOr<bool> PgIdentityStore::AcceptAgreement(const std::string& account_id, int version,
                                                      const AuditEvent& audit) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    auto current = tx.exec_prepared(kCurrentAgreement);
    if (current.empty() || current[0][0].as<int>() != version) return false;
    if (!tx.exec_prepared(kInsertAcceptance, account_id, version).empty()) Audit(tx, audit);
    return true;
  });
}

absl::StatusOr<GateRow> PgIdentityStore::Gates(const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<GateRow> {
    auto rows = tx.exec_prepared(kGates, account_id);
    if (rows.empty()) return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no account");
    GateRow g;
    g.accepted_version = rows[0][0].as<int>();
    g.current_version = rows[0][1].as<int>();
    g.face_verified = rows[0][2].as<bool>();
    g.manual_review = rows[0][3].as<bool>();
    g.face_failures = rows[0][4].as<int>();
    return g;
  });
}

absl::StatusOr<std::pair<std::string, absl::Time>> PgIdentityStore::CreateVerification(
    const std::string& account_id, const std::string& session_id, int purpose,
    const std::string& room_id, const std::string& qr_hash, absl::Duration ttl) {
  using Result = std::pair<std::string, absl::Time>;
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<Result> {
    auto row = tx.exec_prepared1(kInsertVerification, account_id, session_id, purpose, room_id,
                                 qr_hash, absl::ToDoubleSeconds(ttl));
    return Result{row[0].as<std::string>(), FromEpoch(row[1].as<double>())};
  });
}

absl::StatusOr<std::optional<VerificationRow>> PgIdentityStore::FindVerification(
    const std::string& id) {
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<VerificationRow>> {
        auto rows = tx.exec_prepared(kFindVerification, id);
        if (rows.empty()) return std::optional<VerificationRow>();
        const auto& r = rows[0];
        VerificationRow v;
        v.id = r[0].as<std::string>();
        v.account_id = r[1].as<std::string>();
        v.session_id = r[2].as<std::string>();
        v.room_id = r[3].as<std::string>();
        v.purpose = r[4].as<int>();
        v.status = r[5].as<int>();
        v.expires_at = FromEpoch(r[6].as<double>());
        double finished = r[7].as<double>();
        v.finished = finished > 0;
        v.finished_at = FromEpoch(finished);
        v.failures_so_far = r[8].as<int>();
        return std::optional<VerificationRow>(v);
      });
}

absl::StatusOr<std::pair<ScanOutcome, std::string>> PgIdentityStore::Scan(
    const std::string& qr_hash, const std::string& account_id) {
  using Result = std::pair<ScanOutcome, std::string>;
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<Result> {
    auto rows = tx.exec_prepared(kLockByQr, qr_hash);
    if (rows.empty()) return Result{ScanOutcome::kUnknown, ""};
    const auto& r = rows[0];
    std::string id = r[0].as<std::string>();
    if (r[1].as<std::string>() != account_id) return Result{ScanOutcome::kForeignAccount, id};
    if (r[2].as<int>() != 1) return Result{ScanOutcome::kAlreadyUsed, id};
    if (!r[3].as<bool>()) return Result{ScanOutcome::kExpired, id};
    if (!r[4].as<bool>()) return Result{ScanOutcome::kSessionEnded, id};
    tx.exec_prepared0(kMarkScanned, id);
    return Result{ScanOutcome::kScanned, id};
  });
}

absl::StatusOr<ApplyResult> PgIdentityStore::ApplyFaceResult(const std::string& nonce,
                                                             const FaceResult& result,
                                                             int max_failures,
                                                             const AuditEvent& audit) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ApplyResult> {
    ApplyResult out;
    if (tx.exec_prepared(kInsertNonce, nonce).empty()) {
      out.outcome = ApplyOutcome::kReplayedNonce;
      return out;
    }
    auto rows = tx.exec_prepared(kLockVerification, result.verification_id);
    if (rows.empty()) {
      out.outcome = ApplyOutcome::kUnknownVerification;
      return out;
    }
    out.account_id = rows[0][0].as<std::string>();
    int status = rows[0][1].as<int>();
    int purpose = rows[0][2].as<int>();
    if (status != 1 && status != 2) {
      out.outcome = ApplyOutcome::kAlreadyFinished;
      return out;
    }
    tx.exec_prepared0(kFinishVerification, result.verification_id, result.passed ? 3 : 4,
                      result.score, result.provider_ref);
    AuditEvent event = audit;
    event.account_id = out.account_id;
    if (result.passed) {
      if (purpose == 1) tx.exec_prepared0(kMarkFaceVerified, out.account_id);
      event.kind = "VERIFICATION_PASSED";
    } else {
      // The account row is the lock that serialises concurrent failures.
      int failures = tx.exec_prepared1(kCountFailure, out.account_id)[0].as<int>();
      event.kind = "VERIFICATION_FAILED";
      if (failures > max_failures &&
          !tx.exec_prepared(kOpenReview, out.account_id, failures).empty()) {
        out.review_opened = true;
        Audit(tx, AuditEvent{"MANUAL_REVIEW_OPENED", out.account_id, "",
                             std::to_string(failures) + " failures", audit.request_id, audit.ip});
      }
    }
    Audit(tx, event);
    out.outcome = ApplyOutcome::kApplied;
    return out;
  });
}

absl::StatusOr<std::vector<ReviewRow>> PgIdentityStore::OpenReviews() {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<ReviewRow>> {
    std::vector<ReviewRow> out;
    for (const auto& r : tx.exec_prepared(kOpenReviews)) {
      ReviewRow row;
      row.account_id = r[0].as<std::string>();
      row.name = r[1].as<std::string>();
      row.id_number_sealed = r[2].as<std::string>();
      row.failures = r[3].as<int>();
      row.created_at = FromEpoch(r[4].as<double>());
      out.push_back(std::move(row));
    }
    return out;
  });
}

absl::StatusOr<bool> PgIdentityStore::DecideReview(const std::string& account_id, bool approve,
                                                   const std::string& reason, const std::string& by,
                                                   const AuditEvent& audit) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    if (tx.exec_prepared(kDecideReview, account_id, by, approve, reason).empty()) return false;
    if (approve) {
      tx.exec_prepared0(kMarkFaceVerified, account_id);
    }
    tx.exec_prepared0(kResetFailures, account_id);
    Audit(tx, audit);
    return true;
  });
}

absl::StatusOr<std::optional<absl::Time>> PgIdentityStore::RoomVerifiedSince(
    const std::string& account_id, const std::string& room_id, const std::string& verification_id,
    absl::Time since) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<absl::Time>> {
    auto rows = tx.exec_prepared(kRoomVerified, account_id, room_id, verification_id,
                                 absl::ToDoubleSeconds(since - absl::UnixEpoch()));
    if (rows.empty()) return std::optional<absl::Time>();
    return std::optional<absl::Time>(FromEpoch(rows[0][0].as<double>()));
  });
}

}  // namespace admissions::identity
