#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "common/crypto.h"
#include "common/redis.h"
#include "common/token.h"
#include "identity/identity_store.h"
#include "identity/password.h"
#include "identity/sms_sender.h"
#include "identity/v1/identity.pb.h"

namespace admissions::identity {

struct IdentitySettings {
  bool dev_mode = false;
  absl::Duration access_token_ttl = absl::Minutes(15);
  absl::Duration session_ttl = absl::Hours(24 * 30);
  absl::Duration sms_code_ttl = absl::Minutes(5);
  absl::Duration sms_min_interval = absl::Seconds(60);
  int sms_max_attempts = 5;
  int login_max_failures = 10;     // Per login.
  int login_max_failures_ip = 50;  // Per client address.
  absl::Duration login_failure_window = absl::Minutes(15);
  int sms_max_per_ip = 20;  // SMS codes per client address per hour.
  PasswordParams password;
};

/// The account spine (R1, R2): SMS codes, registration, login, refresh, logout,
/// password reset, "me". Plain C++: no gRPC types. Blocking; run on an executor.
class IdentityLogic {
 public:
  /// `redis` may be null: rate limits are then off and revocations are not
  /// broadcast (the gateway that served the logout still refuses the token).
  IdentityLogic(IdentityStore* store, SmsSender* sms, RedisPool* redis, TokenSigner signer,
                SecretBox box, BlindIndex index, IdentitySettings settings);

  absl::Status SendSmsCode(const v1::SendSmsCodeRequest& req, const RequestMeta& meta = {});
  absl::StatusOr<v1::CreateAccountResponse> CreateAccount(const v1::CreateAccountRequest& req);
  absl::StatusOr<v1::SessionTokens> CreateSession(const v1::CreateSessionRequest& req,
                                                  const RequestMeta& meta = {});

  /// Login in three steps, so that the thread that hashes does nothing else:
  /// BeginLogin (validation, throttles, look-up) and FinishLogin (failure count, or
  /// the session, its audit row and any rehash in one transaction) on the general
  /// executor, CheckPassword on the hashing pool. CreateSession runs all three.
  struct LoginAttempt {
    v1::CreateSessionRequest request;
    RequestMeta meta;
    std::string limit_key, ip_key;
    std::optional<Account> account;
    bool password_ok = false;
    std::string new_hash;  // Set when the parameters rose and the password was right.
  };
  absl::StatusOr<LoginAttempt> BeginLogin(const v1::CreateSessionRequest& req,
                                          const RequestMeta& meta);
  void CheckPassword(LoginAttempt& attempt) const;
  absl::StatusOr<v1::SessionTokens> FinishLogin(const LoginAttempt& attempt);
  absl::StatusOr<v1::SessionTokens> RefreshSession(const v1::RefreshSessionRequest& req);
  absl::Status DeleteCurrentSession(const Caller& caller);
  absl::Status ResetPassword(const v1::ResetPasswordRequest& req, const RequestMeta& meta = {});
  absl::StatusOr<v1::RecoverUsernameResponse> RecoverUsername(
      const v1::RecoverUsernameRequest& req);
  absl::StatusOr<v1::Me> GetMe(const Caller& caller);
  /// Internal: name, ID type and ID-number blind index, for roster matching.
  absl::StatusOr<v1::EligibilityIdentity> GetEligibilityIdentity(const std::string& account_id);
  /// Development mode only (NOT_FOUND otherwise).
  absl::StatusOr<v1::ListSmsOutboxResponse> ListSmsOutbox(const v1::ListSmsOutboxRequest& req);

  /// Development mode: the platform operator "operator" with `password`, once.
  absl::Status EnsureDevOperator(const std::string& password);

  const SecretBox& box() const { return box_; }
  const BlindIndex& index() const { return index_; }

 private:
  std::string CodeHash(const std::string& phone_index, int purpose, const std::string& code) const;
  absl::Status CodeError(CodeOutcome outcome) const;
  absl::StatusOr<v1::SessionTokens> Issue(const Account& account, const std::string& session_id,
                                          const std::string& refresh_token) const;
  /// Redis SET NX EX: OK when the key was free, RATE_LIMITED with retryAfterSeconds
  /// otherwise. Fails open (logged) when Redis is unreachable.
  absl::Status TakeSlot(const std::string& key, absl::Duration interval);
  /// RATE_LIMITED when the counter at `key` has reached `limit`.
  absl::Status CheckCounter(const std::string& key, int limit, std::string_view what);
  /// Increments the counter at `key`, which lives for `window` from its first count.
  void Count(const std::string& key, absl::Duration window);
  void Audit(std::string kind, const std::string& account_id, const RequestMeta& meta,
             std::string detail = "");
  void Broadcast(const std::string& session_id);

  IdentityStore* store_;
  SmsSender* sms_;
  RedisPool* redis_;
  TokenSigner signer_;
  SecretBox box_;
  BlindIndex index_;
  IdentitySettings settings_;
  std::string dummy_hash_;  // Verified against when a login is unknown, to even out timing.
};

}  // namespace admissions::identity
