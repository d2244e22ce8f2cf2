#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "enrollment/v1/enrollment.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace admissions {

/// What a service asks enrollment about an exam on a caller's behalf (payment and
/// materials both need the exam's settings and the caller's eligibility).
class EnrollmentClient {
 public:
  virtual ~EnrollmentClient() = default;
  /// The exam's settings (school, fee, deadlines, windows): enrollment's internal GetExam.
  virtual absl::StatusOr<enrollment::v1::Exam> GetExam(const CallContext& call,
                                                       const std::string& exam_id) = 0;
  /// OK when the caller is on the exam's roster. Enrollment has no internal roster RPC;
  /// this calls its GetAdmission with the caller's own authorization forwarded, so that
  /// enrollment applies its eligibility rule (403 NOT_ELIGIBLE otherwise).
  virtual absl::Status CheckEligible(const CallContext& call, const std::string& exam_id) = 0;
};

class GrpcEnrollmentClient final : public EnrollmentClient {
 public:
  GrpcEnrollmentClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<enrollment::v1::Exam> GetExam(const CallContext& call,
                                               const std::string& exam_id) override;
  absl::Status CheckEligible(const CallContext& call, const std::string& exam_id) override;

 private:
  std::unique_ptr<enrollment::v1::Enrollment::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace admissions
