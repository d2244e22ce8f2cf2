#pragma once

#include <memory>

#include "common/pg.h"
#include "identity/identity_store.h"

namespace admissions::identity {

/// The PostgreSQL form of IdentityStore, in schema "identity".
class PgIdentityStore : public IdentityStore, public GateStore {
 public:
  PgIdentityStore(const std::string& uri, int pool_size);

  absl::Status SaveSmsCode(const std::string& phone_index, int purpose,
                           const std::string& code_hash, absl::Duration ttl) override;
  absl::Status AppendOutbox(const std::string& phone_index, const std::string& phone_sealed,
                            int purpose, const std::string& code_sealed) override;
  absl::StatusOr<std::vector<OutboxRow>> ListOutbox(const std::string& phone_index,
                                                    int limit) override;
  absl::StatusOr<std::pair<CodeOutcome, std::string>> RegisterWithCode(
      const CodeCheck& code, const NewAccount& account) override;
  absl::Status EnsureStaffAccount(const NewAccount& account) override;
  absl::StatusOr<std::optional<Account>> FindByLogin(const std::string& login_name,
                                                     const std::string& phone_index,
                                                     const std::string& id_index) override;
  absl::Status UpdatePasswordHash(const std::string& account_id, const std::string& hash) override;
  absl::StatusOr<std::string> CreateSession(const std::string& account_id,
                                            const std::string& refresh_hash,
                                            absl::Duration lifetime, const AuditEvent& audit,
                                            const std::string& new_password_hash) override;
  absl::StatusOr<RefreshResult> RotateRefreshToken(const std::string& old_hash,
                                                   const std::string& new_hash) override;
  absl::StatusOr<bool> RevokeSession(const std::string& session_id, const std::string& account_id,
                                     const std::string& reason) override;
  absl::StatusOr<PasswordResetResult> ResetPasswordWithCode(const CodeCheck& code,
                                                            const std::string& account_id,
                                                            const std::string& new_hash) override;
  absl::StatusOr<std::optional<Account>> FindBySession(const std::string& account_id,
                                                       const std::string& session_id) override;

  absl::StatusOr<std::optional<Account>> FindById(const std::string& account_id) override;
  absl::StatusOr<CodeOutcome> ConsumeCode(const CodeCheck& code) override;
  absl::StatusOr<std::string> CreateStaffAccount(const NewAccount& account) override;
  absl::Status AppendAudit(const AuditEvent& event) override;

  absl::StatusOr<AgreementRow> CurrentAgreement() override;
  absl::StatusOr<int> PublishAgreement(const std::string& title, const std::string& text,
                                       const std::string& by) override;
  absl::StatusOr<bool> AcceptAgreement(const std::string& account_id, int version,
                                       const AuditEvent& audit) override;
  absl::StatusOr<GateRow> Gates(const std::string& account_id) override;
  absl::StatusOr<std::pair<std::string, absl::Time>> CreateVerification(
      const std::string& account_id, const std::string& session_id, int purpose,
      const std::string& room_id, const std::string& qr_hash, absl::Duration ttl) override;
  absl::StatusOr<std::optional<VerificationRow>> FindVerification(const std::string& id) override;
  absl::StatusOr<std::pair<ScanOutcome, std::string>> Scan(const std::string& qr_hash,
                                                           const std::string& account_id) override;
  absl::StatusOr<ApplyResult> ApplyFaceResult(const std::string& nonce, const FaceResult& result,
                                              int max_failures, const AuditEvent& audit) override;
  absl::StatusOr<std::vector<ReviewRow>> OpenReviews() override;
  absl::StatusOr<bool> DecideReview(const std::string& account_id, bool approve,
                                    const std::string& reason, const std::string& by,
                                    const AuditEvent& audit) override;
  absl::StatusOr<std::optional<absl::Time>> RoomVerifiedSince(const std::string& account_id,
                                                              const std::string& room_id,
                                                              const std::string& verification_id,
                                                              absl::Time since) override;

  PgPool& pool() { return pool_; }

 private:
  PgPool pool_;
};

}  // namespace admissions::identity
