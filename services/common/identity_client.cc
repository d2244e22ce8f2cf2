#include "common/identity_client.h"

#include "absl/time/clock.h"
#include "common/upstream.h"

namespace admissions {

GrpcIdentityClient::GrpcIdentityClient(std::shared_ptr<grpc::Channel> channel,
                                       absl::Duration timeout)
    : stub_(identity::v1::Identity::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<identity::v1::EligibilityIdentity> GrpcIdentityClient::GetEligibilityIdentity(
    const CallContext& call, const std::string& account_id) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  identity::v1::GetEligibilityIdentityRequest req;
  req.set_account_id(account_id);
  identity::v1::EligibilityIdentity resp;
  grpc::Status st = stub_->GetEligibilityIdentity(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "identity", call.request_id);
  return resp;
}

absl::StatusOr<identity::v1::GateState> GrpcIdentityClient::GetGateState(
    const CallContext& call, const std::string& account_id) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  identity::v1::GetGateStateRequest req;
  req.set_account_id(account_id);
  identity::v1::GateState resp;
  grpc::Status st = stub_->GetGateState(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "identity", call.request_id);
  return resp;
}

absl::StatusOr<identity::v1::CheckRoomVerificationResponse>
GrpcIdentityClient::CheckRoomVerification(const CallContext& call,
                                          const identity::v1::CheckRoomVerificationRequest& req) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  identity::v1::CheckRoomVerificationResponse resp;
  grpc::Status st = stub_->CheckRoomVerification(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "identity", call.request_id);
  return resp;
}

absl::StatusOr<identity::v1::EligibilityIdentity> CachingIdentityClient::GetEligibilityIdentity(
    const CallContext& call, const std::string& account_id) {
  absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(account_id);
    if (it != cache_.end() && it->second.expires > now) return it->second.value;
  }
  auto v = inner_->GetEligibilityIdentity(call, account_id);
  if (!v.ok()) return v;
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= max_entries_) cache_.clear();
  cache_[account_id] = Entry{*v, now + ttl_};
  return v;
}

}  // namespace admissions
