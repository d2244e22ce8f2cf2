#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "common/crypto.h"
#include "common/notification_hub.h"
#include "common/redis.h"
#include "identity/face_provider.h"
#include "identity/identity_store.h"
#include "identity/password.h"
#include "identity/v1/identity.pb.h"

namespace admissions::identity {

struct VerificationSettings {
  bool dev_mode = false;
  absl::Duration qr_ttl = absl::Minutes(10);
  int max_failures = 5;  // More than this opens a manual review.
  absl::Duration max_wait = absl::Seconds(30);
  PasswordParams password;
};

/// Redis channel on which identity instances tell each other that a verification
/// changed (payload: its id), so that long polls anywhere wake up.
inline constexpr char kVerificationChannel[] = "identity:verification-changed";

/// What gates a candidate (R3, R4, R23) and the staff side of identity: the user
/// agreement, real-person verification with its QR hand-off and signed provider
/// callbacks, manual review after repeated failures, staff accounts. Plain C++,
/// blocking; run on an executor.
class VerificationLogic {
 public:
  /// `redis` may be null (no cross-instance wake-ups); `simulator` is set in
  /// development mode only.
  VerificationLogic(GateStore* gates, IdentityStore* accounts, RedisPool* redis,
                    NotificationHub* hub, FaceCallbackVerifier verifier,
                    std::optional<FaceSimulator> simulator, const SecretBox* box,
                    VerificationSettings settings);

  absl::StatusOr<v1::Agreement> GetAgreement();
  absl::Status AcceptAgreement(const Caller& caller, const v1::AcceptAgreementRequest& req,
                               const RequestMeta& meta);
  absl::StatusOr<v1::PublishAgreementResponse> PublishAgreement(
      const Caller& caller, const v1::PublishAgreementRequest& req);

  absl::StatusOr<v1::CreateVerificationResponse> CreateVerification(
      const Caller& caller, const v1::CreateVerificationRequest& req);
  /// The verification as it stands; only its own account may read it.
  absl::StatusOr<v1::Verification> GetVerification(const Caller& caller, const std::string& id);
  absl::StatusOr<v1::ScanVerificationResponse> Scan(const Caller& caller,
                                                    const v1::ScanVerificationRequest& req);
  absl::StatusOr<v1::FaceNotifyResponse> FaceNotify(const v1::FaceNotifyRequest& req,
                                                    const RequestMeta& meta);
  absl::StatusOr<v1::CompleteVerificationResponse> CompleteForDev(
      const v1::CompleteVerificationRequest& req, const RequestMeta& meta);

  absl::StatusOr<v1::ListManualReviewsResponse> ListManualReviews(const Caller& caller);
  absl::StatusOr<v1::DecideManualReviewResponse> DecideManualReview(
      const Caller& caller, const v1::DecideManualReviewRequest& req, const RequestMeta& meta);

  absl::StatusOr<v1::CheckRoomVerificationResponse> CheckRoomVerification(
      const v1::CheckRoomVerificationRequest& req);
  absl::StatusOr<v1::GateState> GetGateState(const std::string& account_id);

  absl::StatusOr<v1::CreateStaffResponse> CreateStaff(const Caller& caller,
                                                      const v1::CreateStaffRequest& req,
                                                      const RequestMeta& meta);

  /// Called for every verification change, local or announced by another instance.
  void Changed(const std::string& verification_id);
  /// Publishes the current agreement version for gateways (at start-up and after a
  /// new version).
  void AnnounceAgreementVersion();

  NotificationHub* hub() { return hub_; }
  absl::Duration max_wait() const { return settings_.max_wait; }

 private:
  GateStore* gates_;
  IdentityStore* accounts_;
  RedisPool* redis_;
  NotificationHub* hub_;
  FaceCallbackVerifier verifier_;
  std::optional<FaceSimulator> simulator_;
  const SecretBox* box_;
  VerificationSettings settings_;
};

/// True for a well-formed UUID in text form (36 characters, hex and dashes).
bool IsUuid(std::string_view s);

}  // namespace admissions::identity
