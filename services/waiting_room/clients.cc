#include "waiting_room/clients.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/upstream.h"

namespace admissions::waiting_room {
GrpcIdentityClient::GrpcIdentityClient(std::shared_ptr<grpc::Channel> channel,
                                       absl::Duration timeout, absl::Duration cache_ttl)
    : stub_(identity::v1::Identity::NewStub(std::move(channel))),
      timeout_(timeout),
      cache_ttl_(cache_ttl) {}

absl::StatusOr<identity::v1::EligibilityIdentity> GrpcIdentityClient::GetEligibilityIdentity(
    const CallContext& call, const std::string& account_id) {
  absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(account_id);
    if (it != cache_.end() && it->second.expires > now) return it->second.value;
  }
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  identity::v1::GetEligibilityIdentityRequest req;
  req.set_account_id(account_id);
  identity::v1::EligibilityIdentity resp;
  grpc::Status st = stub_->GetEligibilityIdentity(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "identity", call.request_id);
  absl::MutexLock lock(&mu_);
  if (cache_.size() > 100000) cache_.clear();
  cache_[account_id] = Entry{resp, now + cache_ttl_};
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

GrpcEnrollmentClient::GrpcEnrollmentClient(std::shared_ptr<grpc::Channel> channel,
                                           absl::Duration timeout)
    : stub_(enrollment::v1::Enrollment::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<enrollment::v1::Exam> GrpcEnrollmentClient::GetExam(const CallContext& call,
                                                                   const std::string& exam_id) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  enrollment::v1::GetExamRequest req;
  req.set_exam_id(exam_id);
  enrollment::v1::Exam resp;
  grpc::Status st = stub_->GetExam(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "enrollment", call.request_id);
  return resp;
}

absl::StatusOr<enrollment::v1::Journey> GrpcEnrollmentClient::GetJourney(
    const CallContext& call, const std::string& exam_id) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  ctx.AddMetadata("authorization", call.authorization);
  enrollment::v1::GetJourneyRequest req;
  req.set_exam_id(exam_id);
  enrollment::v1::Journey resp;
  grpc::Status st = stub_->GetJourney(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "enrollment", call.request_id);
  return resp;
}

absl::StatusOr<enrollment::v1::RosterEntry> GrpcEnrollmentClient::ResolveRosterEntry(
    const CallContext& call, const enrollment::v1::ResolveRosterEntryRequest& req) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  enrollment::v1::RosterEntry resp;
  grpc::Status st = stub_->ResolveRosterEntry(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "enrollment", call.request_id);
  return resp;
}

absl::StatusOr<enrollment::v1::QuestionBank> GrpcEnrollmentClient::ListQuestionBank(
    const CallContext& call, const std::string& exam_id) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  enrollment::v1::ListQuestionBankRequest req;
  req.set_exam_id(exam_id);
  enrollment::v1::QuestionBank resp;
  grpc::Status st = stub_->ListQuestionBank(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "enrollment", call.request_id);
  return resp;
}

GrpcStepClient::GrpcStepClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
    : stub_(enrollment::v1::JourneyStepSource::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<enrollment::v1::StepStatus> GrpcStepClient::CandidateStep(
    const CallContext& call, const std::string& exam_id, const std::string& account_id,
    enrollment::v1::JourneyStep step) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  enrollment::v1::GetCandidateStepRequest req;
  req.set_exam_id(exam_id);
  req.set_account_id(account_id);
  req.set_step(step);
  enrollment::v1::CandidateStep resp;
  grpc::Status st = stub_->GetCandidateStep(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "materials", call.request_id);
  return resp.status();
}

}  // namespace admissions::waiting_room
