#include "identity/identity_service.h"

#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "common/server.h"

namespace admissions::identity {
namespace {

// One long poll of GetVerification. It answers once: when the first read finds the
// verification final, when a change notification finds a status other than the one
// the first read saw (or a final one), or at the deadline with the status as it is.
// A notification that finds nothing new (the echo of a change that happened before
// the poll began arrives through Redis after it) does not end the poll: it waits on.
class VerificationPoll : public std::enable_shared_from_this<VerificationPoll> {
 public:
  VerificationPoll(VerificationLogic* logic, BoundedExecutor* executor,
                   grpc::ServerUnaryReactor* reactor, Caller caller, std::string id,
                   v1::Verification* resp, absl::Time deadline)
      : logic_(logic),
        executor_(executor),
        reactor_(reactor),
        caller_(std::move(caller)),
        id_(std::move(id)),
        resp_(resp),
        deadline_(deadline) {}

  void Start() {
    Arm();
    // When the executor is full, the waiter still answers at the change or deadline.
    (void)executor_->TryPost([self = shared_from_this()] { self->Read(Why::kFirst); });
  }
  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

 private:
  enum class Why { kFirst, kChanged, kDeadline };

  void Arm() {
    auto self = shared_from_this();
    ticket_.store(logic_->hub()->Wait(id_, deadline_, [self](bool notified) {
      Why why = notified ? Why::kChanged : Why::kDeadline;
      if (!self->executor_->TryPost([self, why] { self->Read(why); }) &&
          !self->done_.exchange(true)) {
        self->reactor_->Finish(ToGrpcStatus(
            Error(absl::StatusCode::kUnavailable, reason::kUnavailable, "server is busy")));
      }
    }));
  }

  void Read(Why why) {
    if (done_.load()) return;
    auto v = logic_->GetVerification(caller_, id_);
    bool settled = !v.ok() || (v->status() != v1::PENDING && v->status() != v1::VERIFYING);
    if (!settled) {
      if (why == Why::kFirst) {
        int unseen = 0;
        seen_.compare_exchange_strong(unseen, v->status());
        return;
      }
      if (why == Why::kChanged && absl::Now() < deadline_) {
        // A notification can be read before the first read ran (a busy executor, or the
        // Redis echo of a change made just before the poll began): then this read is the
        // first look, and only a status other than the one it finds ends the poll.
        int unseen = 0;
        if (seen_.compare_exchange_strong(unseen, v->status()) || v->status() == seen_.load()) {
          Arm();
          return;
        }
      }
    }
    if (why == Why::kFirst) logic_->hub()->Cancel(ticket_.load());
    if (done_.exchange(true)) return;
    if (v.ok()) *resp_ = *std::move(v);
    reactor_->Finish(ToGrpcStatus(v.status()));
  }

  VerificationLogic* logic_;
  BoundedExecutor* executor_;
  grpc::ServerUnaryReactor* reactor_;
  const Caller caller_;
  const std::string id_;
  v1::Verification* resp_;
  const absl::Time deadline_;
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> seen_{0};  // The status the first read found; 0 until it has run.
};

}  // namespace

template <typename Fn>
grpc::ServerUnaryReactor* IdentityService::Authed(grpc::CallbackServerContext* ctx, Fn&& fn) {
  return RunAuthenticated(
      ctx, *auth_, executor_,
      [fn = std::forward<Fn>(fn)](const Caller& caller, const CallContext&) { return fn(caller); });
}

grpc::ServerUnaryReactor* IdentityService::SendSmsCode(grpc::CallbackServerContext* ctx,
                                                       const v1::SendSmsCodeRequest* req,
                                                       v1::SendSmsCodeResponse*) {
  return RunBlocking(ctx, executor_, [this, req, meta = RequestMetaOf(*ctx)] {
    return logic_->SendSmsCode(*req, meta);
  });
}

grpc::ServerUnaryReactor* IdentityService::CreateAccount(grpc::CallbackServerContext* ctx,
                                                         const v1::CreateAccountRequest* req,
                                                         v1::CreateAccountResponse* resp) {
  return RunBlocking(ctx, hash_executor_,
                     [this, req, resp] { return Into(logic_->CreateAccount(*req), resp); });
}

grpc::ServerUnaryReactor* IdentityService::CreateSession(grpc::CallbackServerContext* ctx,
                                                         const v1::CreateSessionRequest* req,
                                                         v1::SessionTokens* resp) {
  // Look-up on the executor, the hash on the hashing pool, the session on the
  // executor again: the hashing threads do nothing but hash.
  auto* reactor = ctx->DefaultReactor();
  auto finish = [reactor](const absl::Status& status) { reactor->Finish(ToGrpcStatus(status)); };
  auto busy = [finish] {
    finish(
        Error(absl::StatusCode::kUnavailable, reason::kUnavailable, "server is busy, try again"));
  };
  auto third = [this, resp, finish](std::shared_ptr<IdentityLogic::LoginAttempt> attempt) {
    ScopedRequestId request_id(attempt->meta.request_id);
    finish(Into(logic_->FinishLogin(*attempt), resp));
  };
  auto second = [this, third, busy](std::shared_ptr<IdentityLogic::LoginAttempt> attempt) {
    logic_->CheckPassword(*attempt);
    if (!executor_->TryPost([third, attempt] { third(attempt); })) busy();
  };
  bool posted = executor_->TryPost([this, req, finish, second, busy, meta = RequestMetaOf(*ctx)] {
    ScopedRequestId request_id(meta.request_id);
    auto attempt = logic_->BeginLogin(*req, meta);
    if (!attempt.ok()) return finish(attempt.status());
    auto shared = std::make_shared<IdentityLogic::LoginAttempt>(*std::move(attempt));
    if (!hash_executor_->TryPost([second, shared] { second(shared); })) busy();
  });
  if (!posted) busy();
  return reactor;
}

grpc::ServerUnaryReactor* IdentityService::RefreshSession(grpc::CallbackServerContext* ctx,
                                                          const v1::RefreshSessionRequest* req,
                                                          v1::SessionTokens* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->RefreshSession(*req), resp); });
}

grpc::ServerUnaryReactor* IdentityService::DeleteCurrentSession(
    grpc::CallbackServerContext* ctx, const v1::DeleteCurrentSessionRequest*,
    v1::DeleteCurrentSessionResponse*) {
  auto caller = auth_->Authenticate(*ctx);
  if (!caller.ok()) return Refuse(ctx, caller.status());
  return RunBlocking(ctx, executor_, [this, caller = *std::move(caller)] {
    return logic_->DeleteCurrentSession(caller);
  });
}

grpc::ServerUnaryReactor* IdentityService::ResetPassword(grpc::CallbackServerContext* ctx,
                                                         const v1::ResetPasswordRequest* req,
                                                         v1::ResetPasswordResponse*) {
  return RunBlocking(ctx, hash_executor_, [this, req, meta = RequestMetaOf(*ctx)] {
    return logic_->ResetPassword(*req, meta);
  });
}

grpc::ServerUnaryReactor* IdentityService::GetMe(grpc::CallbackServerContext* ctx,
                                                 const v1::GetMeRequest*, v1::Me* resp) {
  auto caller = auth_->Authenticate(*ctx);
  if (!caller.ok()) return Refuse(ctx, caller.status());
  return RunBlocking(ctx, executor_, [this, resp, caller = *std::move(caller)] {
    return Into(logic_->GetMe(caller), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::ListSmsOutbox(grpc::CallbackServerContext* ctx,
                                                         const v1::ListSmsOutboxRequest* req,
                                                         v1::ListSmsOutboxResponse* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->ListSmsOutbox(*req), resp); });
}

grpc::ServerUnaryReactor* IdentityService::RecoverUsername(grpc::CallbackServerContext* ctx,
                                                           const v1::RecoverUsernameRequest* req,
                                                           v1::RecoverUsernameResponse* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->RecoverUsername(*req), resp); });
}

grpc::ServerUnaryReactor* IdentityService::GetAgreement(grpc::CallbackServerContext* ctx,
                                                        const v1::GetAgreementRequest*,
                                                        v1::Agreement* resp) {
  return Authed(ctx,
                [this, resp](const Caller&) { return Into(verification_->GetAgreement(), resp); });
}

grpc::ServerUnaryReactor* IdentityService::AcceptAgreement(grpc::CallbackServerContext* ctx,
                                                           const v1::AcceptAgreementRequest* req,
                                                           v1::AcceptAgreementResponse*) {
  return Authed(ctx, [this, req, meta = RequestMetaOf(*ctx)](const Caller& caller) {
    return verification_->AcceptAgreement(caller, *req, meta);
  });
}

grpc::ServerUnaryReactor* IdentityService::PublishAgreement(grpc::CallbackServerContext* ctx,
                                                            const v1::PublishAgreementRequest* req,
                                                            v1::PublishAgreementResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller) {
    return Into(verification_->PublishAgreement(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::CreateVerification(
    grpc::CallbackServerContext* ctx, const v1::CreateVerificationRequest* req,
    v1::CreateVerificationResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller) {
    return Into(verification_->CreateVerification(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::GetVerification(grpc::CallbackServerContext* ctx,
                                                           const v1::GetVerificationRequest* req,
                                                           v1::Verification* resp) {
  auto caller = auth_->Authenticate(*ctx);
  if (!caller.ok()) return Refuse(ctx, caller.status());
  if (req->wait_seconds() < 0 || req->wait_seconds() > 30) {
    return Refuse(ctx, InvalidField("waitSeconds", "waitSeconds must be 0 to 30"));
  }
  if (req->wait_seconds() == 0) {
    return RunBlocking(ctx, executor_, [this, req, resp, caller = *caller] {
      return Into(verification_->GetVerification(caller, req->verification_id()), resp);
    });
  }
  // Long poll: the wait is registered before the first read, so that no change slips
  // between the two.
  auto poll = std::make_shared<VerificationPoll>(verification_, executor_, ctx->DefaultReactor(),
                                                 *caller, req->verification_id(), resp,
                                                 absl::Now() + absl::Seconds(req->wait_seconds()));
  poll->Start();
  return poll->reactor();
}

grpc::ServerUnaryReactor* IdentityService::ScanVerification(grpc::CallbackServerContext* ctx,
                                                            const v1::ScanVerificationRequest* req,
                                                            v1::ScanVerificationResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller) {
    return Into(verification_->Scan(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::FaceNotify(grpc::CallbackServerContext* ctx,
                                                      const v1::FaceNotifyRequest* req,
                                                      v1::FaceNotifyResponse* resp) {
  return RunBlocking(ctx, executor_, [this, req, resp, meta = RequestMetaOf(*ctx)] {
    return Into(verification_->FaceNotify(*req, meta), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::CompleteVerification(
    grpc::CallbackServerContext* ctx, const v1::CompleteVerificationRequest* req,
    v1::CompleteVerificationResponse* resp) {
  return RunBlocking(ctx, executor_, [this, req, resp, meta = RequestMetaOf(*ctx)] {
    return Into(verification_->CompleteForDev(*req, meta), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::ListManualReviews(grpc::CallbackServerContext* ctx,
                                                             const v1::ListManualReviewsRequest*,
                                                             v1::ListManualReviewsResponse* resp) {
  return Authed(ctx, [this, resp](const Caller& caller) {
    return Into(verification_->ListManualReviews(caller), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::DecideManualReview(
    grpc::CallbackServerContext* ctx, const v1::DecideManualReviewRequest* req,
    v1::DecideManualReviewResponse* resp) {
  return Authed(ctx, [this, req, resp, meta = RequestMetaOf(*ctx)](const Caller& caller) {
    return Into(verification_->DecideManualReview(caller, *req, meta), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::CreateStaff(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateStaffRequest* req,
                                                       v1::CreateStaffResponse* resp) {
  return Authed(ctx, [this, req, resp, meta = RequestMetaOf(*ctx)](const Caller& caller) {
    return Into(verification_->CreateStaff(caller, *req, meta), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::CheckRoomVerification(
    grpc::CallbackServerContext* ctx, const v1::CheckRoomVerificationRequest* req,
    v1::CheckRoomVerificationResponse* resp) {
  return RunBlocking(ctx, executor_, [this, req, resp] {
    return Into(verification_->CheckRoomVerification(*req), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::GetGateState(grpc::CallbackServerContext* ctx,
                                                        const v1::GetGateStateRequest* req,
                                                        v1::GateState* resp) {
  return RunBlocking(ctx, executor_, [this, req, resp] {
    return Into(verification_->GetGateState(req->account_id()), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::GetEligibilityIdentity(
    grpc::CallbackServerContext* ctx, const v1::GetEligibilityIdentityRequest* req,
    v1::EligibilityIdentity* resp) {
  return RunBlocking(ctx, executor_, [this, req, resp] {
    return Into(logic_->GetEligibilityIdentity(req->account_id()), resp);
  });
}

}  // namespace admissions::identity
