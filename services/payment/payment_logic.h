#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "enrollment/v1/enrollment.pb.h"
#include "common/enrollment_client.h"
#include "payment/payment_store.h"
#include "payment/provider.h"
#include "payment/sandbox_provider.h"
#include "payment/v1/payment.pb.h"

namespace admissions::payment {

struct PaymentPolicy {
  /// A notification signed longer ago than this (or this far in the future, by the
  /// provider's clock) is refused: a provider signs every retry afresh, so only a captured
  /// old notification is this old.
  absl::Duration notify_max_age = absl::Minutes(15);
  absl::Duration notify_max_skew = absl::Minutes(5);
  /// An order still UNPAID this long after its deadline is checked with the provider once
  /// more (a payment made in time whose notification is late is settled), then closed
  /// here and at the provider. The grace lets a payer who started before the deadline
  /// finish.
  absl::Duration close_grace = absl::Minutes(5);
};

/// The payment domain: orders, settlement, refunds, reconciliation. No gRPC types.
class PaymentLogic {
 public:
  /// `providers` by name; `default_provider` takes new orders. `sandbox`, when set, is the
  /// development provider that DevPay uses (dev mode only).
  PaymentLogic(PaymentStore* store, EnrollmentClient* enrollment,
               std::map<std::string, PaymentProvider*> providers, std::string default_provider,
               SandboxProvider* sandbox, PaymentPolicy policy = {},
               std::function<absl::Time()> clock = absl::Now);

  absl::StatusOr<v1::CreatePaymentResponse> CreatePayment(const Caller& caller,
                                                          const CallContext& call,
                                                          const v1::CreatePaymentRequest& req);
  absl::StatusOr<v1::PaymentState> GetPayment(const Caller& caller, const CallContext& call,
                                              const v1::GetPaymentRequest& req);
  /// Verifies and settles; the reply is what the provider expects. Every failure changes
  /// nothing.
  absl::StatusOr<v1::NotifyResponse> Notify(const v1::NotifyRequest& req);
  absl::StatusOr<v1::DevPayResponse> DevPay(const v1::DevPayRequest& req);
  absl::StatusOr<v1::ListExamPaymentsResponse> ListExamPayments(
      const Caller& caller, const CallContext& call, const v1::ListExamPaymentsRequest& req);
  absl::StatusOr<v1::RefundResponse> Refund(const Caller& caller, const v1::RefundRequest& req);
  absl::StatusOr<v1::ExportPaymentsResponse> ExportPayments(const Caller& caller,
                                                            const CallContext& call,
                                                            const v1::ExportPaymentsRequest& req);
  /// enrollment.v1.JourneyStepSource for PAYMENT: DONE once paid, TODO otherwise.
  absl::StatusOr<enrollment::v1::CandidateStep> GetCandidateStep(
      const enrollment::v1::GetCandidateStepRequest& req);
  /// Asks each provider's query API about orders left UNPAID since before `older_than`
  /// and settles the paid ones the way a notification would. Returns how many settled.
  absl::StatusOr<int> Reconcile(absl::Duration older_than);
  /// Closes orders left UNPAID past their deadline (plus the policy's grace): each is
  /// asked about once more, settled if the provider has its money, otherwise closed at
  /// the provider and here. Returns how many were closed.
  absl::StatusOr<int> CloseExpired();

 private:
  absl::StatusOr<enrollment::v1::Exam> PayableExam(const CallContext& call,
                                                   const std::string& exam_id);
  absl::StatusOr<v1::CreatePaymentResponse> OpenOrder(const Caller& caller, const CallContext& call,
                                                      const std::string& exam_id);
  absl::Status Apply(const std::string& provider, const PaidNotice& notice);

  PaymentStore* store_;
  EnrollmentClient* enrollment_;
  std::map<std::string, PaymentProvider*> providers_;
  std::string default_provider_;
  SandboxProvider* sandbox_;
  PaymentPolicy policy_;
  std::function<absl::Time()> clock_;
};

}  // namespace admissions::payment
