#include "payment/payment_service.h"

#include "absl/time/clock.h"
#include "common/server.h"

namespace admissions::payment {

template <typename Fn>
grpc::ServerUnaryReactor* PaymentService::Authed(grpc::CallbackServerContext* ctx, Fn&& fn) {
  return RunAuthenticated(ctx, *auth_, executor_, std::forward<Fn>(fn));
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
