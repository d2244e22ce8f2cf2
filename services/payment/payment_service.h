#pragma once

#include "common/caller.h"
#include "common/executor.h"
#include "enrollment/v1/enrollment.grpc.pb.h"
#include "payment/payment_logic.h"
#include "payment/v1/payment.grpc.pb.h"

namespace admissions::payment {

/// gRPC adapter of payment.v1.Payment: authenticates, runs PaymentLogic on the executor,
/// maps the status. No domain rules here.
class PaymentService final : public v1::Payment::CallbackService {
 public:
  PaymentService(PaymentLogic* logic, const Authenticator* auth, BoundedExecutor* executor,
                 bool dev_mode)
      : logic_(logic), auth_(auth), executor_(executor), dev_mode_(dev_mode) {}

  grpc::ServerUnaryReactor* CreatePayment(grpc::CallbackServerContext* ctx,
                                          const v1::CreatePaymentRequest* req,
                                          v1::CreatePaymentResponse* resp) override;
  grpc::ServerUnaryReactor* GetPayment(grpc::CallbackServerContext* ctx,
                                       const v1::GetPaymentRequest* req,
                                       v1::PaymentState* resp) override;
  grpc::ServerUnaryReactor* Notify(grpc::CallbackServerContext* ctx, const v1::NotifyRequest* req,
                                   v1::NotifyResponse* resp) override;
  grpc::ServerUnaryReactor* DevPay(grpc::CallbackServerContext* ctx, const v1::DevPayRequest* req,
                                   v1::DevPayResponse* resp) override;
  grpc::ServerUnaryReactor* ListExamPayments(grpc::CallbackServerContext* ctx,
                                             const v1::ListExamPaymentsRequest* req,
                                             v1::ListExamPaymentsResponse* resp) override;
  grpc::ServerUnaryReactor* Refund(grpc::CallbackServerContext* ctx, const v1::RefundRequest* req,
                                   v1::RefundResponse* resp) override;
  grpc::ServerUnaryReactor* ExportPayments(grpc::CallbackServerContext* ctx,
                                           const v1::ExportPaymentsRequest* req,
                                           v1::ExportPaymentsResponse* resp) override;

 private:
  template <typename Fn>
  grpc::ServerUnaryReactor* Authed(grpc::CallbackServerContext* ctx, Fn&& fn);

  PaymentLogic* logic_;
  const Authenticator* auth_;
  BoundedExecutor* executor_;
  bool dev_mode_;
};

/// enrollment.v1.JourneyStepSource for the PAYMENT step (internal, unauthenticated like
/// the other internal RPCs).
class PaymentStepService final : public enrollment::v1::JourneyStepSource::CallbackService {
 public:
  PaymentStepService(PaymentLogic* logic, BoundedExecutor* executor)
      : logic_(logic), executor_(executor) {}
  grpc::ServerUnaryReactor* GetCandidateStep(grpc::CallbackServerContext* ctx,
                                             const enrollment::v1::GetCandidateStepRequest* req,
                                             enrollment::v1::CandidateStep* resp) override;

 private:
  PaymentLogic* logic_;
  BoundedExecutor* executor_;
};

}  // namespace admissions::payment
