#include "waiting_room/clients.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/upstream.h"

namespace admissions::waiting_room {
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
