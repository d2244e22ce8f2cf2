#include "payment/payment_service.h"

#include "absl/time/clock.h"
#include "common/server.h"

namespace admissions::payment {
namespace {

CallContext CallOf(const grpc::CallbackServerContext& ctx) {
  CallContext call;
  auto deadline = ctx.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    call.deadline = absl::FromChrono(deadline);
  }
  call.request_id = RequestIdOf(ctx);
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) call.authorization = std::string(it->second.data(), it->second.size());
  return call;
}

}  // namespace

template <typename Fn>
grpc::ServerUnaryReactor* PaymentService::Authed(grpc::CallbackServerContext* ctx, Fn&& fn) {
  auto caller = auth_->Authenticate(*ctx);
  if (!caller.ok()) return Refuse(ctx, caller.status());
  return RunBlocking(ctx, executor_,
                     [fn = std::forward<Fn>(fn), caller = *std::move(caller), call = CallOf(*ctx)] {
                       return fn(caller, call);
                     });
}

grpc::ServerUnaryReactor* PaymentService::CreatePayment(grpc::CallbackServerContext* ctx,
                                                        const v1::CreatePaymentRequest* req,
                                                        v1::CreatePaymentResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->CreatePayment(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* PaymentService::GetPayment(grpc::CallbackServerContext* ctx,
                                                     const v1::GetPaymentRequest* req,
                                                     v1::PaymentState* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->GetPayment(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* PaymentService::Notify(grpc::CallbackServerContext* ctx,
                                                 const v1::NotifyRequest* req,
                                                 v1::NotifyResponse* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->Notify(*req), resp); });
}

grpc::ServerUnaryReactor* PaymentService::DevPay(grpc::CallbackServerContext* ctx,
                                                 const v1::DevPayRequest* req,
                                                 v1::DevPayResponse* resp) {
  if (!dev_mode_) {
    return Refuse(ctx,
                  Error(absl::StatusCode::kNotFound, reason::kNotFound, "development mode only"));
  }
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->DevPay(*req), resp); });
}

grpc::ServerUnaryReactor* PaymentService::ListExamPayments(grpc::CallbackServerContext* ctx,
                                                           const v1::ListExamPaymentsRequest* req,
                                                           v1::ListExamPaymentsResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->ListExamPayments(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* PaymentService::Refund(grpc::CallbackServerContext* ctx,
                                                 const v1::RefundRequest* req,
                                                 v1::RefundResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->Refund(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* PaymentService::ExportPayments(grpc::CallbackServerContext* ctx,
                                                         const v1::ExportPaymentsRequest* req,
                                                         v1::ExportPaymentsResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->ExportPayments(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* PaymentStepService::GetCandidateStep(
    grpc::CallbackServerContext* ctx, const enrollment::v1::GetCandidateStepRequest* req,
    enrollment::v1::CandidateStep* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->GetCandidateStep(*req), resp); });
}

}  // namespace admissions::payment
