#include "enrollment/clients.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/upstream.h"

namespace admissions::enrollment {
GrpcStepSource::GrpcStepSource(std::string name, std::shared_ptr<grpc::Channel> channel,
                               absl::Duration timeout)
    : name_(std::move(name)),
      stub_(v1::JourneyStepSource::NewStub(std::move(channel))),
      timeout_(timeout) {}

namespace {

class ReadyStep final : public PendingStep {
 public:
  explicit ReadyStep(absl::StatusOr<v1::StepStatus> value) : value_(std::move(value)) {}
  absl::StatusOr<v1::StepStatus> Get() override { return value_; }

 private:
  absl::StatusOr<v1::StepStatus> value_;
};

class GrpcPendingStep final : public PendingStep {
 public:
  GrpcPendingStep(v1::JourneyStepSource::Stub* stub, const CallContext& call,
                  absl::Duration timeout, const std::string& exam_id, const std::string& account_id,
                  v1::JourneyStep step, std::string_view name)
      : name_(name), request_id_(call.request_id) {
    PrepareUpstreamCall(&ctx_, call, timeout);
    req_.set_exam_id(exam_id);
    req_.set_account_id(account_id);
    req_.set_step(step);
    stub->async()->GetCandidateStep(&ctx_, &req_, &resp_, [this](grpc::Status st) {
      absl::MutexLock lock(&mu_);
      status_ = std::move(st);
      done_ = true;
    });
  }
  ~GrpcPendingStep() override {
    absl::MutexLock lock(&mu_);
    if (!done_) ctx_.TryCancel();
    mu_.Await(absl::Condition(&done_));
  }
  absl::StatusOr<v1::StepStatus> Get() override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
    if (!status_.ok()) return FromUpstream(status_, name_, request_id_);
    return resp_.status();
  }

 private:
  std::string_view name_;
  std::string request_id_;
  grpc::ClientContext ctx_;
  v1::GetCandidateStepRequest req_;
  v1::CandidateStep resp_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<PendingStep> StepSource::Ask(const CallContext& call, const std::string& exam_id,
                                             const std::string& account_id, v1::JourneyStep step) {
  return std::make_unique<ReadyStep>(CandidateStep(call, exam_id, account_id, step));
}

std::unique_ptr<PendingStep> GrpcStepSource::Ask(const CallContext& call,
                                                 const std::string& exam_id,
                                                 const std::string& account_id,
                                                 v1::JourneyStep step) {
  return std::make_unique<GrpcPendingStep>(stub_.get(), call, timeout_, exam_id, account_id, step,
                                           name_);
}

absl::StatusOr<v1::StepStatus> GrpcStepSource::CandidateStep(const CallContext& call,
                                                             const std::string& exam_id,
                                                             const std::string& account_id,
                                                             v1::JourneyStep step) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  v1::GetCandidateStepRequest req;
  req.set_exam_id(exam_id);
  req.set_account_id(account_id);
  req.set_step(step);
  v1::CandidateStep resp;
  grpc::Status st = stub_->GetCandidateStep(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, name_, call.request_id);
  return resp.status();
}

}  // namespace admissions::enrollment
