#include "common/enrollment_client.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace admissions {
namespace {

void Prepare(grpc::ClientContext* ctx, const CallContext& call, absl::Duration timeout) {
  ctx->set_deadline(absl::ToChronoTime(std::min(absl::Now() + timeout, call.deadline)));
  if (!call.request_id.empty() && call.request_id != "-") {
    ctx->AddMetadata("x-request-id", call.request_id);
  }
}

absl::Status FromCall(const grpc::Status& status, const CallContext& call) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNIMPLEMENTED:
      Log(LogLevel::kWarn, "upstream_failed",
          {{"service", "enrollment"},
           {"code", std::to_string(status.error_code())},
           {"error", status.error_message()},
           {"request_id", call.request_id}});
      return Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
                   "enrollment is unavailable, try again");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Error(absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED",
                   "enrollment did not answer in time");
    default:
      return FromGrpcStatus(status);
  }
}

}  // namespace

GrpcEnrollmentClient::GrpcEnrollmentClient(std::shared_ptr<grpc::Channel> channel,
                                           absl::Duration timeout)
    : stub_(enrollment::v1::Enrollment::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<enrollment::v1::Exam> GrpcEnrollmentClient::GetExam(const CallContext& call,
                                                                   const std::string& exam_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx, call, timeout_);
  enrollment::v1::GetExamRequest req;
  req.set_exam_id(exam_id);
  enrollment::v1::Exam resp;
  grpc::Status st = stub_->GetExam(&ctx, req, &resp);
  if (!st.ok()) return FromCall(st, call);
  return resp;
}

absl::Status GrpcEnrollmentClient::CheckEligible(const CallContext& call,
                                                 const std::string& exam_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx, call, timeout_);
  ctx.AddMetadata("authorization", call.authorization);
  enrollment::v1::GetAdmissionRequest req;
  req.set_exam_id(exam_id);
  enrollment::v1::Admission resp;
  grpc::Status st = stub_->GetAdmission(&ctx, req, &resp);
  if (!st.ok()) return FromCall(st, call);
  return absl::OkStatus();
}

}  // namespace admissions
