#include "common/enrollment_client.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/upstream.h"

namespace admissions {
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

absl::Status GrpcEnrollmentClient::CheckEligible(const CallContext& call,
                                                 const std::string& exam_id) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  ctx.AddMetadata("authorization", call.authorization);
  enrollment::v1::GetAdmissionRequest req;
  req.set_exam_id(exam_id);
  enrollment::v1::Admission resp;
  grpc::Status st = stub_->GetAdmission(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "enrollment", call.request_id);
  return absl::OkStatus();
}

}  // namespace admissions
