#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace admissions::identity {

/// An account as stored: personal data sealed, look-ups by blind index.
struct Account {
  std::string id;
  std::string name;
  int id_type = 0;
  std::string id_number_sealed;  // Empty for staff without an ID number.
  std::string phone_sealed;      // Empty when none.
  std::string login_name;        // Staff only.
  std::string password_hash;
  std::string school_id;
  std::vector<std::string> roles;
  bool face_verified = false;
  int agreement_version = 0;  // The newest version accepted, 0 when none.
  // Filled by FindBySession only (what GET /v1/me reports).
  int current_agreement_version = 0;
  bool manual_review = false;
};

struct NewAccount {
  std::string name;
  int id_type = 0;
  std::string id_number_sealed, id_number_index;
  std::string phone_sealed, phone_index;
  std::string login_name;
  std::string password_hash;
  std::string school_id;
  std::vector<std::string> roles;
};

/// An SMS code presented by a client, hashed, for the latest code sent to a phone
/// for a purpose.
struct CodeCheck {
  std::string phone_index;
  int purpose = 0;
  std::string code_hash;
  int max_attempts = 5;
};

enum class CodeOutcome {
  kAccepted,   // Right code, consumed by the same transaction as the change.
  kWrong,      // Counted as an attempt.
  kExpired,    // Past its time.
  kMissing,    // None sent, or the latest one was already used.
  kExhausted,  // Too many wrong attempts: ask for a new code.
};

struct OutboxRow {
  std::string phone_sealed;
  int purpose = 0;
  std::string code_sealed;
  absl::Time sent_at;
};

enum class RefreshOutcome { kRotated, kUnknown, kExpired, kReused, kRevoked };

struct RefreshResult {
  RefreshOutcome outcome = RefreshOutcome::kUnknown;
  std::string session_id;
  std::optional<Account> account;
};

struct PasswordResetResult {
  CodeOutcome outcome = CodeOutcome::kMissing;
  std::vector<std::string> revoked_sessions;
};

/// One row of the append-only security audit.
struct AuditEvent {
  std::string kind;        // LOGIN, LOGIN_FAILED, PASSWORD_RESET, VERIFICATION_PASSED, ...
  std::string account_id;  // Whom it concerns; may be empty.
  std::string actor_id;    // Who did it, when not the account itself.
  std::string detail;
  std::string request_id;
  std::string ip;
};

/// Identity's storage. Every method is one transaction. Blocking.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  virtual absl::Status SaveSmsCode(const std::string& phone_index, int purpose,
                                   const std::string& code_hash, absl::Duration ttl) = 0;
  virtual absl::Status AppendOutbox(const std::string& phone_index, const std::string& phone_sealed,
                                    int purpose, const std::string& code_sealed) = 0;
  virtual absl::StatusOr<std::vector<OutboxRow>> ListOutbox(const std::string& phone_index,
                                                            int limit) = 0;

  /// Checks the code and, when accepted, creates the account and consumes the code
  /// together. ALREADY_EXISTS (details.field phone or idNumber) on a duplicate.
  virtual absl::StatusOr<std::pair<CodeOutcome, std::string>> RegisterWithCode(
      const CodeCheck& code, const NewAccount& account) = 0;

  /// Creates a staff account unless one with that login name exists.
  virtual absl::Status EnsureStaffAccount(const NewAccount& account) = 0;

  /// The account whose login name, phone index or ID-number index matches.
  virtual absl::StatusOr<std::optional<Account>> FindByLogin(const std::string& login_name,
                                                             const std::string& phone_index,
                                                             const std::string& id_index) = 0;
  virtual absl::Status UpdatePasswordHash(const std::string& account_id,
                                          const std::string& hash) = 0;

  /// A new login session with its first refresh token, its audit row and, when
  /// `new_password_hash` is not empty, the account's upgraded hash, in one
  /// transaction; returns the session id.
  virtual absl::StatusOr<std::string> CreateSession(const std::string& account_id,
                                                    const std::string& refresh_hash,
                                                    absl::Duration lifetime,
                                                    const AuditEvent& audit,
                                                    const std::string& new_password_hash) = 0;
  /// Marks `old_hash` used and stores `new_hash` for the same session. A token
  /// presented after it was used revokes its session (kReused).
  virtual absl::StatusOr<RefreshResult> RotateRefreshToken(const std::string& old_hash,
                                                           const std::string& new_hash) = 0;
  /// Ends a session of the account; false when it was already ended or unknown.
  virtual absl::StatusOr<bool> RevokeSession(const std::string& session_id,
                                             const std::string& account_id,
                                             const std::string& reason) = 0;
  /// Checks the code sent to the account's phone, sets the new hash and ends every
  /// live session of the account, together.
  virtual absl::StatusOr<PasswordResetResult> ResetPasswordWithCode(
      const CodeCheck& code, const std::string& account_id, const std::string& new_hash) = 0;
  /// The account, when `session_id` is one of its live sessions.
  virtual absl::StatusOr<std::optional<Account>> FindBySession(const std::string& account_id,
                                                               const std::string& session_id) = 0;
  virtual absl::StatusOr<std::optional<Account>> FindById(const std::string& account_id) = 0;
  /// Checks and consumes the latest code for the phone and purpose, alone.
  virtual absl::StatusOr<CodeOutcome> ConsumeCode(const CodeCheck& code) = 0;
  /// A staff account; ALREADY_EXISTS (details.field login) when the login is taken.
  virtual absl::StatusOr<std::string> CreateStaffAccount(const NewAccount& account) = 0;
  virtual absl::Status AppendAudit(const AuditEvent& event) = 0;
};

// ---- What gates a candidate: agreements, real-person verification, manual review.

struct AgreementRow {
  int version = 0;
  std::string title, text;
  absl::Time published_at;
};

struct GateRow {
  int accepted_version = 0;
  int current_version = 0;
  bool face_verified = false;
  bool manual_review = false;
  int face_failures = 0;
};

struct VerificationRow {
  std::string id, account_id, session_id, room_id;
  int purpose = 0;
  int status = 0;  // identity.v1.VerificationStatus; EXPIRED when past its time.
  absl::Time expires_at, finished_at;
  bool finished = false;
  int failures_so_far = 0;
};

enum class ScanOutcome {
  kScanned,
  kUnknown,
  kExpired,
  kForeignAccount,
  kAlreadyUsed,
  kSessionEnded
};

struct FaceResult {
  std::string verification_id;
  bool passed = false;
  double score = 0;
  std::string provider_ref;
};

enum class ApplyOutcome { kApplied, kReplayedNonce, kUnknownVerification, kAlreadyFinished };

struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::kUnknownVerification;
  std::string account_id;
  bool review_opened = false;
};

struct ReviewRow {
  std::string account_id, name, id_number_sealed;
  int failures = 0;
  absl::Time created_at;
};

class GateStore {
 public:
  virtual ~GateStore() = default;

  virtual absl::StatusOr<AgreementRow> CurrentAgreement() = 0;
  virtual absl::StatusOr<int> PublishAgreement(const std::string& title, const std::string& text,
                                               const std::string& by) = 0;
  /// False when `version` is not the current one.
  virtual absl::StatusOr<bool> AcceptAgreement(const std::string& account_id, int version,
                                               const AuditEvent& audit) = 0;
  virtual absl::StatusOr<GateRow> Gates(const std::string& account_id) = 0;

  /// Returns {id, expires_at}.
  virtual absl::StatusOr<std::pair<std::string, absl::Time>> CreateVerification(
      const std::string& account_id, const std::string& session_id, int purpose,
      const std::string& room_id, const std::string& qr_hash, absl::Duration ttl) = 0;
  virtual absl::StatusOr<std::optional<VerificationRow>> FindVerification(
      const std::string& id) = 0;
  /// Marks the verification whose QR token hashes to `qr_hash` as VERIFYING, once.
  virtual absl::StatusOr<std::pair<ScanOutcome, std::string>> Scan(
      const std::string& qr_hash, const std::string& account_id) = 0;
  /// Applies a provider result exactly once per nonce and per verification; on the
  /// failure that takes the count past `max_failures`, opens the account's manual
  /// review (at most one open review, whatever the concurrency).
  virtual absl::StatusOr<ApplyResult> ApplyFaceResult(const std::string& nonce,
                                                      const FaceResult& result, int max_failures,
                                                      const AuditEvent& audit) = 0;
  virtual absl::StatusOr<std::vector<ReviewRow>> OpenReviews() = 0;
  /// False when the account has no open review.
  virtual absl::StatusOr<bool> DecideReview(const std::string& account_id, bool approve,
                                            const std::string& reason, const std::string& by,
                                            const AuditEvent& audit) = 0;
  /// When the newest PASSED ROOM verification of the account for the room (or the
  /// one named) finished after `since`, its time.
  virtual absl::StatusOr<std::optional<absl::Time>> RoomVerifiedSince(
      const std::string& account_id, const std::string& room_id, const std::string& verification_id,
      absl::Time since) = 0;
};

}  // namespace admissions::identity
