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

namespace admissions::enrollment {

/// A step's answer on its way (StepSource::Ask). Get() waits for it; destroying it
/// before cancels the call and waits for it to end.
class PendingStep {
 public:
  virtual ~PendingStep() = default;
  virtual absl::StatusOr<v1::StepStatus> Get() = 0;
};

/// Where a candidate stands on a journey step that another service owns (PAYMENT,
/// MATERIALS, ROOM).
class StepSource {
 public:
  virtual ~StepSource() = default;
  virtual absl::StatusOr<v1::StepStatus> CandidateStep(const CallContext& call,
                                                       const std::string& exam_id,
                                                       const std::string& account_id,
                                                       v1::JourneyStep step) = 0;
  /// Starts the question and returns at once, so that the journey asks every owner at
  /// the same time. The default answers synchronously (fakes, the unconfigured source).
  virtual std::unique_ptr<PendingStep> Ask(const CallContext& call, const std::string& exam_id,
                                           const std::string& account_id, v1::JourneyStep step);
};

/// The source of a step whose service is not configured (not deployed yet): nothing
/// can have recorded the step, so a required step is TODO. The truth, not a default.
class UnconfiguredStepSource : public StepSource {
 public:
  absl::StatusOr<v1::StepStatus> CandidateStep(const CallContext&, const std::string&,
                                               const std::string&, v1::JourneyStep) override {
    return v1::TODO;
  }
};

/// Asks the owning service's enrollment.v1.JourneyStepSource over gRPC, with a deadline.
class GrpcStepSource : public StepSource {
 public:
  GrpcStepSource(std::string name, std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<v1::StepStatus> CandidateStep(const CallContext& call, const std::string& exam_id,
                                               const std::string& account_id,
                                               v1::JourneyStep step) override;
  /// An asynchronous call (gRPC's callback API): no thread waits until Get().
  std::unique_ptr<PendingStep> Ask(const CallContext& call, const std::string& exam_id,
                                   const std::string& account_id, v1::JourneyStep step) override;

 private:
  std::string name_;
  std::unique_ptr<v1::JourneyStepSource::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace admissions::enrollment
