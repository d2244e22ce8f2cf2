#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "grpcpp/channel.h"
#include "identity/v1/identity.grpc.pb.h"

namespace admissions {

/// What other services ask identity (its internal RPCs): enrollment and the waiting room.
class IdentityClient {
 public:
  virtual ~IdentityClient() = default;
  /// Name, ID type and the ID number's blind index and mask of a candidate.
  virtual absl::StatusOr<identity::v1::EligibilityIdentity> GetEligibilityIdentity(
      const CallContext& call, const std::string& account_id) = 0;
  /// Agreement, face verification and manual review of a candidate.
  virtual absl::StatusOr<identity::v1::GateState> GetGateState(const CallContext& call,
                                                               const std::string& account_id) = 0;
  /// Whether the account has a recent PASSED verification of purpose ROOM for a room.
  virtual absl::StatusOr<identity::v1::CheckRoomVerificationResponse> CheckRoomVerification(
      const CallContext& call, const identity::v1::CheckRoomVerificationRequest& req) = 0;
};

/// IdentityClient over gRPC: every call has a deadline of `timeout`, or the caller's
/// when that is sooner.
class GrpcIdentityClient : public IdentityClient {
 public:
  GrpcIdentityClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<identity::v1::EligibilityIdentity> GetEligibilityIdentity(
      const CallContext& call, const std::string& account_id) override;
  absl::StatusOr<identity::v1::GateState> GetGateState(const CallContext& call,
                                                       const std::string& account_id) override;
  absl::StatusOr<identity::v1::CheckRoomVerificationResponse> CheckRoomVerification(
      const CallContext& call, const identity::v1::CheckRoomVerificationRequest& req) override;

 private:
  std::unique_ptr<identity::v1::Identity::Stub> stub_;
  absl::Duration timeout_;
};

/// Keeps eligibility identities for `ttl` (an account's name, ID type and number do
/// not change in identity; the ttl bounds how long a correction would take to show).
/// Gate state and room verifications are never cached: they change as the candidate goes.
class CachingIdentityClient : public IdentityClient {
 public:
  CachingIdentityClient(IdentityClient* inner, absl::Duration ttl, size_t max_entries = 100000)
      : inner_(inner), ttl_(ttl), max_entries_(max_entries) {}
  absl::StatusOr<identity::v1::EligibilityIdentity> GetEligibilityIdentity(
      const CallContext& call, const std::string& account_id) override;
  absl::StatusOr<identity::v1::GateState> GetGateState(const CallContext& call,
                                                       const std::string& account_id) override {
    return inner_->GetGateState(call, account_id);
  }
  absl::StatusOr<identity::v1::CheckRoomVerificationResponse> CheckRoomVerification(
      const CallContext& call, const identity::v1::CheckRoomVerificationRequest& req) override {
    return inner_->CheckRoomVerification(call, req);
  }

 private:
  struct Entry {
    identity::v1::EligibilityIdentity value;
    absl::Time expires;
  };
  IdentityClient* inner_;
  absl::Duration ttl_;
  size_t max_entries_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace admissions
