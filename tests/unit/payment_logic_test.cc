// PaymentLogic with an in-memory store, a fake enrollment and the sandbox provider on an
// in-memory book: the deadline close job, notification freshness and the order rules.
// The exactly-once settlement itself is PostgreSQL's (payment_http_test).
#include "payment/payment_logic.h"

#include <gtest/gtest.h>

#include <map>

#include "common/crypto.h"
#include "common/status.h"

namespace admissions::payment {
namespace {

constexpr char kMerchant[] = "m-1";
constexpr char kExam[] = "exam-1";

class FakeStore : public PaymentStore {
 public:
  std::map<std::string, Order> orders;
  std::map<std::string, bool> notified;  // notify id → seen
  int ledger_rows = 0;

  absl::StatusOr<std::optional<Order>> FindLiveOrder(const std::string& account,
                                                     const std::string& exam) override {
    for (const auto& [id, o] : orders) {
      if (o.account_id == account && o.exam_id == exam &&
          (o.status == "UNPAID" || o.status == "PAID")) {
        return o;
      }
    }
    return std::nullopt;
  }
  absl::StatusOr<std::optional<Order>> FindLatestOrder(const std::string& account,
                                                       const std::string& exam) override {
    return FindLiveOrder(account, exam);
  }
  absl::StatusOr<Order> CreateOrGetOrder(const NewOrder& n) override {
    Order o;
    o.id = "order-" + std::to_string(orders.size() + 1);
    o.account_id = n.account_id;
    o.exam_id = n.exam_id;
    o.school_id = n.school_id;
    o.amount_cents = n.amount_cents;
    o.currency = "CNY";
    o.status = "UNPAID";
    o.provider = n.provider;
    o.pay_deadline = n.pay_deadline;
    orders[o.id] = o;
    return o;
  }
  absl::StatusOr<Order> GetOrder(const std::string& id) override {
    auto it = orders.find(id);
    if (it == orders.end()) return absl::NotFoundError("no such order");
    return it->second;
  }
  absl::StatusOr<Settlement> Settle(const std::string&, const PaidNotice& n, absl::Time) override {
    auto it = orders.find(n.order_id);
    if (it == orders.end()) return absl::NotFoundError("no such order");
    if (it->second.amount_cents != n.amount_cents) return absl::InvalidArgumentError("amount");
    if (notified[n.notify_id]) return Settlement::kDuplicate;
    notified[n.notify_id] = true;
    Order& o = it->second;
    const bool in_time = !o.pay_deadline || n.paid_at <= *o.pay_deadline;
    if (o.status == "UNPAID" && in_time) {
      o.status = "PAID";
      o.paid_at = n.paid_at;
      ++ledger_rows;
      return Settlement::kPaid;
    }
    if (o.status == "UNPAID" || o.status == "CLOSED") {
      o.status = "CLOSED";
      o.refund_due = true;
      ++ledger_rows;
      return Settlement::kLate;
    }
    return Settlement::kDuplicate;
  }
  absl::StatusOr<std::vector<Order>> ListExamOrders(const std::string&,
                                                    const std::string&) override {
    return std::vector<Order>();
  }
  absl::StatusOr<std::vector<Order>> ListStaleUnpaid(absl::Time, int) override {
    return std::vector<Order>();
  }
  absl::StatusOr<std::vector<Order>> ListExpiredUnpaid(absl::Time before, int) override {
    std::vector<Order> out;
    for (const auto& [id, o] : orders) {
      if (o.status == "UNPAID" && o.pay_deadline && *o.pay_deadline < before) out.push_back(o);
    }
    return out;
  }
  absl::StatusOr<bool> CloseUnpaid(const std::string& id) override {
    Order& o = orders.at(id);
    if (o.status != "UNPAID") return false;
    o.status = "CLOSED";
    return true;
  }
  absl::Status ClaimRefund(const std::string&) override { return absl::OkStatus(); }
  absl::Status ReleaseRefundClaim(const std::string&) override { return absl::OkStatus(); }
  absl::Status MarkRefunded(const std::string&, const std::string&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> FindIdempotent(const std::string&, const std::string&,
                                                            const std::string&) override {
    return std::nullopt;
  }
  absl::StatusOr<std::string> SaveIdempotent(const std::string&, const std::string&,
                                             const std::string&,
                                             const std::string& response) override {
    return response;
  }
};

class FakeEnrollment : public EnrollmentClient {
 public:
  enrollment::v1::Exam exam;
  absl::StatusOr<enrollment::v1::Exam> GetExam(const CallContext&, const std::string&) override {
    return exam;
  }
  absl::Status CheckEligible(const CallContext&, const std::string&) override {
    return absl::OkStatus();
  }
};

class PaymentLogicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    sandbox_ =
        SandboxProvider::Create(Base64Encode(RandomBytes(32)), "", kMerchant, "https://p/", &book_)
            .value();
    enrollment_.exam.set_exam_id(kExam);
    enrollment_.exam.set_school_id("school-1");
    enrollment_.exam.set_fee_cents(10000);
    PaymentPolicy policy;
    policy.close_grace = absl::Minutes(5);
    logic_ = std::make_unique<PaymentLogic>(
        &store_, &enrollment_, std::map<std::string, PaymentProvider*>{{"sandbox", sandbox_.get()}},
        "sandbox", sandbox_.get(), policy, [this] { return now_; });
    candidate_.account_id = "acc-1";
    candidate_.roles = {"CANDIDATE"};
  }

  // An UNPAID order whose deadline is `deadline`.
  std::string OpenOrder(absl::Time deadline) {
    NewOrder n;
    n.account_id = "acc-" + std::to_string(store_.orders.size() + 1);
    n.exam_id = kExam;
    n.school_id = "school-1";
    n.amount_cents = 10000;
    n.provider = "sandbox";
    n.pay_deadline = deadline;
    return store_.CreateOrGetOrder(n)->id;
  }

  v1::NotifyRequest Notification(const std::string& order, absl::Time signed_at) {
    PaidNotice n;
    n.notify_id = HexEncode(RandomBytes(8));
    n.order_id = order;
    n.amount_cents = 10000;
    n.merchant_id = kMerchant;
    n.trade_no = "T1";
    n.paid_at = signed_at;
    RawNotification raw = sandbox_->Sign(SandboxProvider::Body(n), signed_at);
    v1::NotifyRequest req;
    req.set_provider("sandbox");
    req.set_raw_body(raw.body);
    req.set_signature(raw.signature);
    req.set_timestamp(raw.timestamp);
    req.set_nonce(raw.nonce);
    return req;
  }

  absl::Time now_ = absl::FromUnixSeconds(1800000000);
  FakeStore store_;
  FakeEnrollment enrollment_;
  MemorySandboxTradeBook book_;
  std::unique_ptr<SandboxProvider> sandbox_;
  std::unique_ptr<PaymentLogic> logic_;
  Caller candidate_;
};

TEST_F(PaymentLogicTest, AnOrderUnpaidPastTheGraceIsClosedHereAndAtTheProvider) {
  std::string order = OpenOrder(now_ - absl::Minutes(6));
  ASSERT_EQ(logic_->CloseExpired().value(), 1);
  EXPECT_EQ(store_.orders[order].status, "CLOSED");
  // Closed at the provider: the payer cannot pay it any more.
  auto pay = sandbox_->Pay({order, 10000, "CNY"}, now_);
  ASSERT_FALSE(pay.ok());
  EXPECT_EQ(ReasonOf(pay.status()), "TRADE_CLOSED");
  // A second run finds nothing to do.
  EXPECT_EQ(logic_->CloseExpired().value(), 0);
}

TEST_F(PaymentLogicTest, AnOrderWithinTheGraceIsLeftOpen) {
  std::string order = OpenOrder(now_ - absl::Minutes(4));
  EXPECT_EQ(logic_->CloseExpired().value(), 0);
  EXPECT_EQ(store_.orders[order].status, "UNPAID");
  EXPECT_TRUE(sandbox_->Pay({order, 10000, "CNY"}, now_).ok());
}

TEST_F(PaymentLogicTest, MoneyPaidInTimeWhoseNotificationWasLostIsSettledNotClosed) {
  std::string order = OpenOrder(now_ - absl::Minutes(10));
  // Paid at the provider a minute before the deadline; the notification never came.
  ASSERT_TRUE(sandbox_->Pay({order, 10000, "CNY"}, now_ - absl::Minutes(11)).ok());
  EXPECT_EQ(logic_->CloseExpired().value(), 0);
  EXPECT_EQ(store_.orders[order].status, "PAID");
  EXPECT_EQ(store_.ledger_rows, 1);
}

TEST_F(PaymentLogicTest, MoneyPaidAfterTheDeadlineIsKeptForRefundByTheCloseJob) {
  std::string order = OpenOrder(now_ - absl::Minutes(10));
  ASSERT_TRUE(sandbox_->Pay({order, 10000, "CNY"}, now_ - absl::Minutes(8)).ok());
  EXPECT_EQ(logic_->CloseExpired().value(), 0);
  EXPECT_EQ(store_.orders[order].status, "CLOSED");
  EXPECT_TRUE(store_.orders[order].refund_due);
  EXPECT_EQ(store_.ledger_rows, 1);
}

TEST_F(PaymentLogicTest, NotificationsAreFreshOrRefused) {
  std::string order = OpenOrder(now_ + absl::Hours(1));
  auto old = logic_->Notify(Notification(order, now_ - absl::Minutes(16)));
  EXPECT_EQ(ReasonOf(old.status()), "STALE_NOTIFICATION");
  auto ahead = logic_->Notify(Notification(order, now_ + absl::Minutes(6)));
  EXPECT_EQ(ReasonOf(ahead.status()), "STALE_NOTIFICATION");
  EXPECT_EQ(store_.orders[order].status, "UNPAID");
  auto fresh = logic_->Notify(Notification(order, now_ - absl::Minutes(14)));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->text(), "success");
  EXPECT_EQ(store_.orders[order].status, "PAID");
}

TEST_F(PaymentLogicTest, ATamperedTimestampBreaksTheSignature) {
  std::string order = OpenOrder(now_ + absl::Hours(1));
  // The signature covers the timestamp: moving it (to pass the freshness check) fails.
  PaidNotice n;
  n.notify_id = "n1";
  n.order_id = order;
  n.amount_cents = 10000;
  n.merchant_id = kMerchant;
  n.trade_no = "T1";
  n.paid_at = now_;
  RawNotification raw = sandbox_->Sign(SandboxProvider::Body(n), now_);
  v1::NotifyRequest req;
  req.set_provider("sandbox");
  req.set_raw_body(raw.body);
  req.set_timestamp(raw.timestamp);
  req.set_nonce(raw.nonce);
  req.set_signature(raw.signature);
  EXPECT_TRUE(logic_->Notify(req).ok());
  req.set_timestamp(std::to_string(absl::ToUnixSeconds(now_) + 1));
  EXPECT_EQ(ReasonOf(logic_->Notify(req).status()), "BAD_SIGNATURE");
}

TEST_F(PaymentLogicTest, ForeignMerchantChangesNothing) {
  std::string order = OpenOrder(now_ + absl::Hours(1));
  PaidNotice n;
  n.notify_id = "n2";
  n.order_id = order;
  n.amount_cents = 10000;
  n.merchant_id = "m-2";
  n.trade_no = "T2";
  n.paid_at = now_;
  RawNotification raw = sandbox_->Sign(SandboxProvider::Body(n), now_);
  v1::NotifyRequest req;
  req.set_provider("sandbox");
  req.set_raw_body(raw.body);
  req.set_signature(raw.signature);
  req.set_timestamp(raw.timestamp);
  req.set_nonce(raw.nonce);
  EXPECT_EQ(ReasonOf(logic_->Notify(req).status()), "MERCHANT_MISMATCH");
  EXPECT_EQ(store_.orders[order].status, "UNPAID");
}

TEST_F(PaymentLogicTest, NoOrderAfterTheDeadlineAndNoneForAFreeExam) {
  CallContext call;
  v1::CreatePaymentRequest req;
  req.set_exam_id(kExam);
  *enrollment_.exam.mutable_pay_deadline() = google::protobuf::Timestamp();
  enrollment_.exam.mutable_pay_deadline()->set_seconds(absl::ToUnixSeconds(now_) - 1);
  EXPECT_EQ(ReasonOf(logic_->CreatePayment(candidate_, call, req).status()), "PAYMENT_CLOSED");
  enrollment_.exam.set_fee_cents(0);
  EXPECT_EQ(ReasonOf(logic_->CreatePayment(candidate_, call, req).status()),
            "PAYMENT_NOT_REQUIRED");
  EXPECT_TRUE(store_.orders.empty());
}

TEST_F(PaymentLogicTest, TheSandboxRefundsOnlyWhatWasPaid) {
  std::string order = OpenOrder(now_ + absl::Hours(1));
  EXPECT_EQ(ReasonOf(sandbox_->Refund({order, 10000, "CNY"}, "", "x")), "NOT_PAID");
  ASSERT_TRUE(sandbox_->Pay({order, 10000, "CNY"}, now_).ok());
  EXPECT_TRUE(sandbox_->Refund({order, 10000, "CNY"}, "", "x").ok());
  EXPECT_EQ(book_.Refunds(order), 1);
  // Paying a paid order resends its first payment (same notify id), it is not paid twice.
  auto first = book_.Find(order).value();
  ASSERT_TRUE(sandbox_->Pay({order, 10000, "CNY"}, now_ + absl::Minutes(1)).ok());
  EXPECT_EQ(book_.Find(order)->notify_id, first.notify_id);
}

}  // namespace
}  // namespace admissions::payment
