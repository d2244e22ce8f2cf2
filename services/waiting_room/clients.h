#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "common/identity_client.h"
#include "enrollment/v1/enrollment.grpc.pb.h"
#include "grpcpp/channel.h"
#include "identity/v1/identity.grpc.pb.h"

namespace admissions::waiting_room {

/// What the waiting room asks enrollment.
class EnrollmentClient {
 public:
  virtual ~EnrollmentClient() = default;
  virtual absl::StatusOr<enrollment::v1::Exam> GetExam(const CallContext& call,
                                                       const std::string& exam_id) = 0;
  /// The caller's journey, asked with the caller's own authorization forwarded.
  virtual absl::StatusOr<enrollment::v1::Journey> GetJourney(const CallContext& call,
                                                             const std::string& exam_id) = 0;
  virtual absl::StatusOr<enrollment::v1::RosterEntry> ResolveRosterEntry(
      const CallContext& call, const enrollment::v1::ResolveRosterEntryRequest& req) = 0;
  virtual absl::StatusOr<enrollment::v1::QuestionBank> ListQuestionBank(
      const CallContext& call, const std::string& exam_id) = 0;
};

/// A journey step owned by another service (materials' MATERIALS for the examiners' list).
class StepClient {
 public:
  virtual ~StepClient() = default;
  virtual absl::StatusOr<enrollment::v1::StepStatus> CandidateStep(
      const CallContext& call, const std::string& exam_id, const std::string& account_id,
      enrollment::v1::JourneyStep step) = 0;
};

class GrpcEnrollmentClient final : public EnrollmentClient {
 public:
  GrpcEnrollmentClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<enrollment::v1::Exam> GetExam(const CallContext& call,
                                               const std::string& exam_id) override;
  absl::StatusOr<enrollment::v1::Journey> GetJourney(const CallContext& call,
                                                     const std::string& exam_id) override;
  absl::StatusOr<enrollment::v1::RosterEntry> ResolveRosterEntry(
      const CallContext& call, const enrollment::v1::ResolveRosterEntryRequest& req) override;
  absl::StatusOr<enrollment::v1::QuestionBank> ListQuestionBank(
      const CallContext& call, const std::string& exam_id) override;

 private:
  std::unique_ptr<enrollment::v1::Enrollment::Stub> stub_;
  absl::Duration timeout_;
};

class GrpcStepClient final : public StepClient {
 public:
  GrpcStepClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<enrollment::v1::StepStatus> CandidateStep(
      const CallContext& call, const std::string& exam_id, const std::string& account_id,
      enrollment::v1::JourneyStep step) override;

 private:
  std::unique_ptr<enrollment::v1::JourneyStepSource::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace admissions::waiting_room
