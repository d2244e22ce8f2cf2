#include "payment/payment_logic.h"

#include <algorithm>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/authz.h"
#include "common/log.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"

namespace admissions::payment {
namespace {

constexpr int kMaxDevSends = 100;
constexpr int kMaxDevDelayMs = 60000;

v1::OrderStatus StatusOf(const std::string& s) {
  if (s == "UNPAID") return v1::UNPAID;
  if (s == "PAID") return v1::PAID;
  if (s == "CLOSED") return v1::CLOSED;
  if (s == "REFUNDED") return v1::REFUNDED;
  return v1::ORDER_STATUS_UNSPECIFIED;
}

// An UNPAID order past its deadline reads as CLOSED: nobody can pay it any more.
v1::OrderStatus Shown(const Order& o, absl::Time now) {
  if (o.status == "UNPAID" && o.pay_deadline && now > *o.pay_deadline) return v1::CLOSED;
  return StatusOf(o.status);
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

std::optional<absl::Time> FromProto(const enrollment::v1::Exam& exam) {
  if (!exam.has_pay_deadline()) return std::nullopt;
  return absl::FromUnixMicros(
      google::protobuf::util::TimeUtil::TimestampToMicroseconds(exam.pay_deadline()));
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

std::string Rfc3339(std::optional<absl::Time> t) {
  if (!t) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", *t, absl::UTCTimeZone());
}

absl::Status RequireCandidate(const Caller& caller) {
  return RequireAnyRole(caller, {role::kCandidate});
}

}  // namespace

PaymentLogic::PaymentLogic(PaymentStore* store, EnrollmentClient* enrollment,
                           std::map<std::string, PaymentProvider*> providers,
                           std::string default_provider, SandboxProvider* sandbox,
                           PaymentPolicy policy, std::function<absl::Time()> clock)
    : store_(store),
      enrollment_(enrollment),
      providers_(std::move(providers)),
      default_provider_(std::move(default_provider)),
      sandbox_(sandbox),
      policy_(policy),
      clock_(std::move(clock)) {}

absl::StatusOr<enrollment::v1::Exam> PaymentLogic::PayableExam(const CallContext& call,
                                                               const std::string& exam_id) {
  if (exam_id.empty()) return InvalidField("examId", "required");
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, exam_id));
  if (exam.fee_cents() <= 0) {
    return Error(absl::StatusCode::kFailedPrecondition, "PAYMENT_NOT_REQUIRED",
                 "this exam has no fee");
  }
  return exam;
}

absl::StatusOr<v1::CreatePaymentResponse> PaymentLogic::OpenOrder(const Caller& caller,
                                                                  const CallContext& call,
                                                                  const std::string& exam_id) {
  ASSIGN_OR_RETURN(auto exam, PayableExam(call, exam_id));
  RETURN_IF_ERROR(enrollment_->CheckEligible(call, exam_id));
  ASSIGN_OR_RETURN(auto live, store_->FindLiveOrder(caller.account_id, exam_id));
  const absl::Time now = clock_();
  auto deadline = FromProto(exam);
  if (!live && deadline && now > *deadline) {
    return Error(absl::StatusCode::kFailedPrecondition, "PAYMENT_CLOSED",
                 "the payment deadline has passed");
  }
  Order order;
  if (live) {
    order = *std::move(live);
  } else {
    NewOrder n;
    n.account_id = caller.account_id;
    n.exam_id = exam_id;
    n.school_id = exam.school_id();
    n.amount_cents = exam.fee_cents();
    n.provider = default_provider_;
    n.pay_deadline = deadline;
    ASSIGN_OR_RETURN(order, store_->CreateOrGetOrder(n));
  }
  v1::CreatePaymentResponse resp;
  resp.set_order_id(order.id);
  resp.set_amount_cents(order.amount_cents);
  resp.set_status(Shown(order, now));
  resp.set_currency(order.currency);
  if (resp.status() == v1::UNPAID) {
    auto it = providers_.find(order.provider);
    if (it == providers_.end()) {
      return Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
                   "the order's payment provider is not configured");
    }
    ASSIGN_OR_RETURN(auto url, it->second->PayUrl({order.id, order.amount_cents, order.currency}));
    resp.set_pay_url(url);
  }
  return resp;
}

absl::StatusOr<v1::CreatePaymentResponse> PaymentLogic::CreatePayment(
    const Caller& caller, const CallContext& call, const v1::CreatePaymentRequest& req) {
  RETURN_IF_ERROR(RequireCandidate(caller));
  if (req.idempotency_key().size() > 200) {
    return InvalidField("Idempotency-Key", "at most 200 characters");
  }
  const std::string hash = absl::StrCat("create-payment:", req.exam_id());
  if (!req.idempotency_key().empty()) {
    ASSIGN_OR_RETURN(auto first,
                     store_->FindIdempotent(caller.account_id, req.idempotency_key(), hash));
    if (first) {
      v1::CreatePaymentResponse resp;
      if (!resp.ParseFromString(*first)) return absl::InternalError("bad stored answer");
      return resp;
    }
  }
  ASSIGN_OR_RETURN(auto resp, OpenOrder(caller, call, req.exam_id()));
  if (!req.idempotency_key().empty()) {
    ASSIGN_OR_RETURN(auto stored, store_->SaveIdempotent(caller.account_id, req.idempotency_key(),
                                                         hash, resp.SerializeAsString()));
    v1::CreatePaymentResponse first;
    if (!first.ParseFromString(stored)) return absl::InternalError("bad stored answer");
    return first;
  }
  return resp;
}

absl::StatusOr<v1::PaymentState> PaymentLogic::GetPayment(const Caller& caller,
                                                          const CallContext& call,
                                                          const v1::GetPaymentRequest& req) {
  RETURN_IF_ERROR(RequireCandidate(caller));
  ASSIGN_OR_RETURN(auto exam, PayableExam(call, req.exam_id()));
  (void)exam;
  ASSIGN_OR_RETURN(auto live, store_->FindLiveOrder(caller.account_id, req.exam_id()));
  if (!live) {
    ASSIGN_OR_RETURN(live, store_->FindLatestOrder(caller.account_id, req.exam_id()));
  }
  if (!live) {
    return Error(absl::StatusCode::kNotFound, "NO_ORDER", "no payment order for this exam yet");
  }
  v1::PaymentState out;
  out.set_order_id(live->id);
  out.set_amount_cents(live->amount_cents);
  out.set_status(Shown(*live, clock_()));
  out.set_currency(live->currency);
  if (live->paid_at && live->status == "PAID") *out.mutable_paid_at() = ToProto(*live->paid_at);
  return out;
}

absl::Status PaymentLogic::Apply(const std::string& provider, const PaidNotice& notice) {
  ASSIGN_OR_RETURN(auto outcome, store_->Settle(provider, notice, clock_()));
  const char* what = outcome == Settlement::kPaid   ? "paid"
                     : outcome == Settlement::kLate ? "late_refund_due"
                                                    : "duplicate";
  Log(outcome == Settlement::kLate ? LogLevel::kWarn : LogLevel::kInfo, "payment_settled",
      {{"order_id", notice.order_id},
       {"provider", provider},
       {"notify_id", notice.notify_id},
       {"outcome", what}});
  return absl::OkStatus();
}

absl::StatusOr<v1::NotifyResponse> PaymentLogic::Notify(const v1::NotifyRequest& req) {
  auto it = providers_.find(req.provider());
  if (it == providers_.end()) {
    return Error(absl::StatusCode::kNotFound, "UNKNOWN_PROVIDER", "no such payment provider");
  }
  PaymentProvider* provider = it->second;
  RawNotification raw{req.raw_body(), req.signature(), req.timestamp(), req.nonce()};
  auto notice = provider->Verify(raw);
  if (!notice.ok()) {
    Log(LogLevel::kWarn, "notification_rejected",
        {{"provider", req.provider()}, {"error", notice.status().message()}});
    return notice.status();
  }
  // The signature covers the timestamp, so it is the provider's; checked after the
  // signature so that a forger learns nothing from the answer.
  int64_t signed_at = 0;
  if (!absl::SimpleAtoi(req.timestamp(), &signed_at)) {
    return Error(absl::StatusCode::kInvalidArgument, "MALFORMED_NOTIFICATION",
                 "the notification's timestamp is not Unix seconds");
  }
  const absl::Time now = clock_();
  if (absl::FromUnixSeconds(signed_at) < now - policy_.notify_max_age ||
      absl::FromUnixSeconds(signed_at) > now + policy_.notify_max_skew) {
    Log(LogLevel::kWarn, "notification_rejected",
        {{"provider", req.provider()},
         {"error", "stale timestamp"},
         {"timestamp", req.timestamp()}});
    return Error(absl::StatusCode::kUnauthenticated, "STALE_NOTIFICATION",
                 "the notification was signed too long ago (or in the future)");
  }
  if (notice->merchant_id != provider->MerchantId()) {
    Log(LogLevel::kWarn, "notification_rejected",
        {{"provider", req.provider()}, {"error", "foreign merchant id"}});
    return Error(absl::StatusCode::kInvalidArgument, "MERCHANT_MISMATCH",
                 "the notification is for another merchant");
  }
  RETURN_IF_ERROR(Apply(req.provider(), *notice));
  v1::NotifyResponse resp;
  resp.set_text(provider->SuccessReply());
  return resp;
}

absl::StatusOr<v1::DevPayResponse> PaymentLogic::DevPay(const v1::DevPayRequest& req) {
  if (sandbox_ == nullptr) {
    return Error(absl::StatusCode::kFailedPrecondition, "NO_SANDBOX",
                 "the sandbox provider is not configured");
  }
  if (req.times() < 0 || req.times() > kMaxDevSends) {
    return InvalidField("times", absl::StrCat("between 0 and ", kMaxDevSends));
  }
  if (req.delay_ms() < 0 || req.delay_ms() > kMaxDevDelayMs) {
    return InvalidField("delayMs", absl::StrCat("between 0 and ", kMaxDevDelayMs));
  }
  ASSIGN_OR_RETURN(auto order, store_->GetOrder(req.order_id()));
  if (order.provider != sandbox_->Name()) {
    return Error(absl::StatusCode::kFailedPrecondition, "NOT_SANDBOX",
                 "the order was placed with another provider");
  }
  if (req.delay_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(req.delay_ms()));
  ASSIGN_OR_RETURN(RawNotification raw,
                   sandbox_->Pay({order.id, order.amount_cents, order.currency}, clock_()));
  v1::DevPayResponse resp;
  if (req.drop()) return resp;
  const int times = std::max(1, req.times());
  for (int i = 0; i < times; ++i) {
    // The same verification path as POST /v1/payments/notify/sandbox.
    v1::NotifyRequest n;
    n.set_provider(sandbox_->Name());
    n.set_raw_body(raw.body);
    n.set_signature(raw.signature);
    n.set_timestamp(raw.timestamp);
    n.set_nonce(raw.nonce);
    auto r = Notify(n);
    resp.add_replies(r.ok() ? r->text() : std::string(r.status().message()));
    resp.set_sent(resp.sent() + 1);
  }
  return resp;
}

absl::StatusOr<v1::ListExamPaymentsResponse> PaymentLogic::ListExamPayments(
    const Caller& caller, const CallContext& call, const v1::ListExamPaymentsRequest& req) {
  if (req.exam_id().empty()) return InvalidField("examId", "required");
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, req.exam_id()));
  RETURN_IF_ERROR(RequireSchoolStaff(caller, exam.school_id()));
  std::string status;
  if (req.status() != v1::ORDER_STATUS_UNSPECIFIED) status = v1::OrderStatus_Name(req.status());
  ASSIGN_OR_RETURN(auto orders, store_->ListExamOrders(req.exam_id(), status));
  v1::ListExamPaymentsResponse resp;
  for (const auto& o : orders) {
    auto* r = resp.add_orders();
    r->set_order_id(o.id);
    r->set_account_id(o.account_id);
    r->set_amount_cents(o.amount_cents);
    r->set_currency(o.currency);
    r->set_status(StatusOf(o.status));
    *r->mutable_created_at() = ToProto(o.created_at);
    if (o.paid_at) *r->mutable_paid_at() = ToProto(*o.paid_at);
    r->set_provider_trade_no(o.provider_trade_no);
    r->set_refund_due(o.refund_due);
    r->set_refund_reason(o.refund_reason);
  }
  return resp;
}

absl::StatusOr<v1::RefundResponse> PaymentLogic::Refund(const Caller& caller,
                                                        const v1::RefundRequest& req) {
  ASSIGN_OR_RETURN(auto order, store_->GetOrder(req.order_id()));
  RETURN_IF_ERROR(RequireSchoolStaff(caller, order.school_id));
  if (req.reason().empty()) return InvalidField("reason", "required");
  if (req.reason().size() > 500) return InvalidField("reason", "at most 500 characters");
  if (order.status != "PAID" && !order.refund_due) {
    return Error(absl::StatusCode::kFailedPrecondition, "NOT_REFUNDABLE",
                 "only a paid order, or money that came late, can be refunded");
  }
  auto it = providers_.find(order.provider);
  if (it == providers_.end()) {
    return Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
                 "the order's payment provider is not configured");
  }
  // One refund at a time per order: the provider is asked once even when two staff
  // press the button together.
  RETURN_IF_ERROR(store_->ClaimRefund(order.id));
  if (absl::Status refunded = it->second->Refund({order.id, order.amount_cents, order.currency},
                                                 order.provider_trade_no, req.reason());
      !refunded.ok()) {
    (void)store_->ReleaseRefundClaim(order.id);
    return refunded;
  }
  RETURN_IF_ERROR(store_->MarkRefunded(order.id, req.reason()));
  Log(LogLevel::kInfo, "payment_refunded", {{"order_id", order.id}, {"by", caller.account_id}});
  v1::RefundResponse resp;
  resp.set_status(v1::REFUNDED);
  return resp;
}

absl::StatusOr<v1::ExportPaymentsResponse> PaymentLogic::ExportPayments(
    const Caller& caller, const CallContext& call, const v1::ExportPaymentsRequest& req) {
  if (req.exam_id().empty()) return InvalidField("examId", "required");
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, req.exam_id()));
  RETURN_IF_ERROR(RequireSchoolStaff(caller, exam.school_id()));
  ASSIGN_OR_RETURN(auto orders, store_->ListExamOrders(req.exam_id(), ""));
  std::string csv =
      "orderId,accountId,amountCents,currency,status,createdAt,paidAt,providerTradeNo,"
      "refundDue,refundReason\r\n";
  for (const auto& o : orders) {
    absl::StrAppend(&csv, o.id, ",", CsvField(o.account_id), ",", o.amount_cents, ",", o.currency,
                    ",", o.status, ",", Rfc3339(o.created_at), ",", Rfc3339(o.paid_at), ",",
                    CsvField(o.provider_trade_no), ",", o.refund_due ? "true" : "false", ",",
                    CsvField(o.refund_reason), "\r\n");
  }
  v1::ExportPaymentsResponse resp;
  resp.set_csv(std::move(csv));
  return resp;
}

absl::StatusOr<enrollment::v1::CandidateStep> PaymentLogic::GetCandidateStep(
    const enrollment::v1::GetCandidateStepRequest& req) {
  if (req.step() != enrollment::v1::PAYMENT) {
    return InvalidField("step", "payment owns only the PAYMENT step");
  }
  ASSIGN_OR_RETURN(auto live, store_->FindLiveOrder(req.account_id(), req.exam_id()));
  enrollment::v1::CandidateStep step;
  step.set_status(live && live->status == "PAID" ? enrollment::v1::DONE : enrollment::v1::TODO);
  return step;
}

absl::StatusOr<int> PaymentLogic::Reconcile(absl::Duration older_than) {
  ASSIGN_OR_RETURN(auto stale, store_->ListStaleUnpaid(clock_() - older_than, 200));
  int settled = 0;
  for (const auto& o : stale) {
    auto it = providers_.find(o.provider);
    if (it == providers_.end()) continue;
    auto notice = it->second->Query(o.id);
    if (absl::IsNotFound(notice.status())) continue;
    if (!notice.ok()) {
      Log(LogLevel::kWarn, "reconcile_query_failed",
          {{"order_id", o.id}, {"error", notice.status().message()}});
      continue;
    }
    if (notice->merchant_id != it->second->MerchantId()) continue;
    if (Apply(o.provider, *notice).ok()) ++settled;
  }
  return settled;
}

absl::StatusOr<int> PaymentLogic::CloseExpired() {
  ASSIGN_OR_RETURN(auto expired, store_->ListExpiredUnpaid(clock_() - policy_.close_grace, 200));
  int closed = 0;
  for (const auto& o : expired) {
    auto it = providers_.find(o.provider);
    if (it == providers_.end()) continue;
    PaymentProvider* provider = it->second;
    // Money that reached the provider in time is settled as paid; after the deadline,
    // as late (kept and marked for refund). Only an order the provider never saw paid
    // is closed.
    auto notice = provider->Query(o.id);
    if (notice.ok() && notice->merchant_id == provider->MerchantId()) {
      (void)Apply(o.provider, *notice);
      continue;
    }
    if (!notice.ok() && !absl::IsNotFound(notice.status())) {
      Log(LogLevel::kWarn, "close_query_failed",
          {{"order_id", o.id}, {"error", notice.status().message()}});
      continue;
    }
    absl::Status at_provider = provider->Close({o.id, o.amount_cents, o.currency});
    if (!at_provider.ok()) {
      // Paid between the query and the close (TRADE_PAID): the next run settles it.
      Log(LogLevel::kWarn, "close_at_provider_failed",
          {{"order_id", o.id}, {"error", at_provider.message()}});
      continue;
    }
    ASSIGN_OR_RETURN(bool changed, store_->CloseUnpaid(o.id));
    if (changed) {
      ++closed;
      Log(LogLevel::kInfo, "order_closed", {{"order_id", o.id}, {"reason", "deadline"}});
    }
  }
  return closed;
}

}  // namespace admissions::payment
