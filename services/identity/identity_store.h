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

  /// A new login session with its first refresh token; returns the session id.
  virtual absl::StatusOr<std::string> CreateSession(const std::string& account_id,
                                                    const std::string& refresh_hash,
                                                    absl::Duration lifetime) = 0;
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
};

}  // namespace admissions::identity
