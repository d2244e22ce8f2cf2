// Payment through the gateway over real HTTP: orders, the sandbox provider's signed
// notifications, settlement exactly once, reconciliation, deadlines, refunds and the
// journey's PAYMENT step, with the real PostgreSQL and Redis that `make test` starts.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "integration/harness.h"
#include "payment/sandbox_provider.h"

namespace admissions::testing {
namespace {

const std::string kHeader = "name,idType,idNumber,gender,major,direction\n";
const std::string kMerchant = "sandbox-merchant-0001";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

class PaymentHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();

  void SetUp() override {
    s.RedisDeleteMatching("rl:*");
    if (op_.empty()) op_ = Login(s, "operator", "operator-dev-pass").first;
    ASSERT_FALSE(op_.empty());
    sandbox_ = payment::SandboxProvider::Create(s.payment_sandbox_key(), "", kMerchant, "").value();
  }

  static std::string Unique() { return HexEncode(RandomBytes(4)); }

  std::string CreateSchool() {
    auto r =
        s.Call("POST", "/v1/admin/schools",
               absl::StrCat(R"({"code":"P)", Unique(), R"(","name":"付费大学"})"), Bearer(op_));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Str("schoolId");
  }

  std::string CreateExam(const std::string& school, int64_t fee,
                         absl::Duration deadline = absl::Hours(720)) {
    std::string json = absl::StrCat(R"({"schoolId":")", school, R"(","title":"复试","feeCents":)",
                                    fee, R"(,"mode":"SINGLE_CAMERA","commitmentText":"承诺")");
    if (fee > 0) {
      absl::StrAppend(&json, R"(,"payDeadline":")", Rfc3339(absl::Now() + deadline), "\"");
    }
    auto r = s.Call("POST", "/v1/admin/exams", json + "}", Bearer(op_));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Str("examId");
  }

  void Enroll(const std::string& exam, const ReadyCandidate& rc) {
    auto h = Bearer(op_);
    h["Content-Type"] = "text/csv";
    auto r = s.Call("POST", "/v1/admin/exams/" + exam + "/roster",
                    kHeader + "张三,RESIDENT_ID," + rc.c.id_number + ",男,计算机,人工智能\n", h);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  void ReadNotice(const std::string& token) {
    auto n = s.Call("GET", "/v1/notice", "", Bearer(token));
    ASSERT_EQ(n.status, 200) << n.body;
    auto r =
        s.Call("POST", "/v1/notice:read", R"({"version":)" + n.Str("version") + "}", Bearer(token));
    ASSERT_EQ(r.status, 204) << r.body;
  }

  // A verified candidate on the roster of a new exam with `fee`, notice read.
  struct Setup {
    ReadyCandidate rc;
    std::string school, exam;
  };
  Setup Candidate(int64_t fee = 12345, absl::Duration deadline = absl::Hours(720)) {
    Setup st;
    st.rc = VerifiedCandidate(s);
    ReadNotice(st.rc.token);
    st.school = CreateSchool();
    st.exam = CreateExam(st.school, fee, deadline);
    Enroll(st.exam, st.rc);
    return st;
  }

  HttpResponse Open(const Setup& st, const std::map<std::string, std::string>& extra = {}) {
    auto h = Bearer(st.rc.token);
    for (const auto& [k, v] : extra) h[k] = v;
    return s.Call("POST", "/v1/exams/" + st.exam + "/payment", "", h);
  }

  std::string PaymentStep(const Setup& st) {
    auto r = s.Call("GET", "/v1/exams/" + st.exam + "/journey", "", Bearer(st.rc.token));
    EXPECT_EQ(r.status, 200) << r.body;
    for (const auto& v : r.Find("steps")->list_value().values()) {
      const auto& f = v.struct_value().fields();
      if (f.at("step").string_value() == "PAYMENT") return f.at("status").string_value();
    }
    return "";
  }

  HttpResponse Send(const payment::RawNotification& raw, const std::string& provider = "sandbox") {
    return s.Call("POST", "/v1/payments/notify/" + provider, raw.body,
                  {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"X-Pay-Signature", raw.signature},
                   {"X-Pay-Timestamp", raw.timestamp},
                   {"X-Pay-Nonce", raw.nonce}});
  }

  payment::PaidNotice Notice(const std::string& order, int64_t amount) {
    payment::PaidNotice n;
    n.notify_id = HexEncode(RandomBytes(16));
    n.order_id = order;
    n.amount_cents = amount;
    n.merchant_id = kMerchant;
    n.trade_no = "T" + HexEncode(RandomBytes(8));
    n.paid_at = absl::Now();
    return n;
  }

  int Ledger(const std::string& order) {
    return SqlInt(s, "SELECT count(*) FROM payment.ledger WHERE order_id = '" + order + "'");
  }
  std::string Status(const std::string& order) {
    return s.Sql("SELECT status FROM payment.orders WHERE id = '" + order + "'");
  }

  std::unique_ptr<payment::SandboxProvider> sandbox_;
  static std::string op_;
};
std::string PaymentHttpTest::op_;

TEST_F(PaymentHttpTest, ACandidatePaysThroughTheSandboxAndTheJourneyMovesOn) {
  Setup st = Candidate(12345);
  auto r = Open(st);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string order = r.Str("orderId");
  EXPECT_FALSE(order.empty());
  EXPECT_EQ(r.Str("amountCents"), "12345");
  EXPECT_EQ(r.Str("status"), "UNPAID");
  EXPECT_EQ(r.Str("currency"), "CNY");
  EXPECT_NE(r.Str("payUrl").find("total_amount=123.45"), std::string::npos) << r.body;
  // Calling again returns the same open order.
  EXPECT_EQ(Open(st).Str("orderId"), order);
  auto got = s.Call("GET", "/v1/exams/" + st.exam + "/payment", "", Bearer(st.rc.token));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Str("status"), "UNPAID");
  EXPECT_EQ(PaymentStep(st), "TODO");

  auto pay = s.Call("POST", "/v1/dev/payments/" + order + ":pay", "{}");
  ASSERT_EQ(pay.status, 200) << pay.body;
  EXPECT_EQ(pay.Str("sent"), "1");
  EXPECT_NE(pay.body.find("success"), std::string::npos) << pay.body;

  got = s.Call("GET", "/v1/exams/" + st.exam + "/payment", "", Bearer(st.rc.token));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Str("status"), "PAID");
  EXPECT_FALSE(got.Str("paidAt").empty());
  EXPECT_EQ(PaymentStep(st), "DONE");
  EXPECT_EQ(Ledger(order), 1);
  // A paid order is what the next POST returns; no second order.
  EXPECT_EQ(Open(st).Str("status"), "PAID");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM payment.orders WHERE exam_id = '" + st.exam + "'"), 1);

  // Told to send it three more times: replies "success", changes nothing.
  pay = s.Call("POST", "/v1/dev/payments/" + order + ":pay", R"({"times":3})");
  ASSERT_EQ(pay.status, 200) << pay.body;
  EXPECT_EQ(pay.Str("sent"), "3");
  EXPECT_EQ(Ledger(order), 1);
}

TEST_F(PaymentHttpTest, BadNotificationsChangeNothing) {
  Setup st = Candidate(10000);
  std::string order = Open(st).Str("orderId");
  ASSERT_FALSE(order.empty());
  auto unchanged = [&](const char* what) {
    EXPECT_EQ(Status(order), "UNPAID") << what;
    EXPECT_EQ(Ledger(order), 0) << what;
    EXPECT_EQ(
        SqlInt(s, "SELECT count(*) FROM payment.notifications WHERE order_id = '" + order + "'"), 0)
        << what;
  };
  std::string body = payment::SandboxProvider::Body(Notice(order, 10000));

  // Signed by someone else.
  auto other =
      payment::SandboxProvider::Create(Base64Encode(RandomBytes(32)), "", kMerchant, "").value();
  EXPECT_EQ(Send(other->Sign(body, absl::Now())).status, 401);
  unchanged("foreign key");
  // The right key, the body changed after signing.
  auto raw = sandbox_->Sign(body, absl::Now());
  raw.body += "x";
  EXPECT_EQ(Send(raw).status, 401);
  raw = sandbox_->Sign(body, absl::Now());
  raw.signature = "not base64!";
  EXPECT_EQ(Send(raw).status, 401);
  unchanged("tampered");
  // One fen off, either way.
  EXPECT_EQ(
      Send(sandbox_->Sign(payment::SandboxProvider::Body(Notice(order, 9999)), absl::Now())).status,
      400);
  EXPECT_EQ(Send(sandbox_->Sign(payment::SandboxProvider::Body(Notice(order, 10001)), absl::Now()))
                .status,
            400);
  unchanged("amount");
  // Another merchant.
  auto foreign = Notice(order, 10000);
  foreign.merchant_id = "someone-else";
  EXPECT_EQ(Send(sandbox_->Sign(payment::SandboxProvider::Body(foreign), absl::Now())).status, 400);
  unchanged("merchant");
  // An order nobody placed, and one that is not even an id.
  EXPECT_EQ(Send(sandbox_->Sign(payment::SandboxProvider::Body(
                                    Notice("00000000-0000-4000-8000-000000000000", 10000)),
                                absl::Now()))
                .status,
            404);
  EXPECT_EQ(
      Send(sandbox_->Sign(payment::SandboxProvider::Body(Notice("x", 10000)), absl::Now())).status,
      404);
  // Malformed bodies, correctly signed.
  for (const std::string& bad : {std::string("garbage"), std::string(""), body + "&notify_id=again",
                                 body.substr(0, body.find("&trade_status")),
                                 std::string("total_amount=100&out_trade_no=") + order}) {
    int status = Send(sandbox_->Sign(bad, absl::Now())).status;
    EXPECT_EQ(status, 400) << bad;
  }
  // An unknown provider.
  EXPECT_EQ(Send(sandbox_->Sign(body, absl::Now()), "nobody").status, 404);
  unchanged("malformed");

  // And the genuine one settles, answering exactly "success".
  auto ok = Send(sandbox_->Sign(body, absl::Now()));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "success");
  EXPECT_EQ(Status(order), "PAID");
  EXPECT_EQ(Ledger(order), 1);
}

TEST_F(PaymentHttpTest, FiftyIdenticalNotificationsAtOnceSettleOnce) {
  Setup st = Candidate(20000);
  std::string order = Open(st).Str("orderId");
  ASSERT_FALSE(order.empty());
  auto raw = sandbox_->Sign(payment::SandboxProvider::Body(Notice(order, 20000)), absl::Now());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      auto r = Send(raw);
      if (r.status == 200 && r.body == "success") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(Status(order), "PAID");
  EXPECT_EQ(Ledger(order), 1);
  EXPECT_EQ(
      SqlInt(s, "SELECT count(*) FROM payment.notifications WHERE order_id = '" + order + "'"), 1);
  // A different notification for the same payment, as a provider sends it a day later
  // (signed afresh when sent): still one ledger row.
  auto later = Notice(order, 20000);
  later.paid_at = absl::Now() - absl::Hours(24);
  EXPECT_EQ(Send(sandbox_->Sign(payment::SandboxProvider::Body(later), absl::Now())).body,
            "success");
  EXPECT_EQ(Ledger(order), 1);
}

TEST_F(PaymentHttpTest, AnOldOrFutureSignedNotificationIsRefused) {
  Setup st = Candidate(4400);
  std::string order = Open(st).Str("orderId");
  ASSERT_FALSE(order.empty());
  // Correctly signed, but an hour old (a captured notification replayed) or an hour
  // ahead: refused, nothing settled.
  std::string body = payment::SandboxProvider::Body(Notice(order, 4400));
  ExpectError(Send(sandbox_->Sign(body, absl::Now() - absl::Hours(1))), 401, "STALE_NOTIFICATION");
  ExpectError(Send(sandbox_->Sign(body, absl::Now() + absl::Hours(1))), 401, "STALE_NOTIFICATION");
  EXPECT_EQ(Status(order), "UNPAID");
  EXPECT_EQ(Ledger(order), 0);
  // The same body signed now settles.
  EXPECT_EQ(Send(sandbox_->Sign(body, absl::Now())).body, "success");
  EXPECT_EQ(Status(order), "PAID");
}

TEST_F(PaymentHttpTest, AnOrderUnpaidPastTheDeadlineIsClosedHereAndAtTheProvider) {
  Setup st = Candidate(5500);
  std::string order = Open(st).Str("orderId");
  ASSERT_FALSE(order.empty());
  // The deadline passed an hour ago (more than the 5-minute grace): the job, which runs
  // every second in this stack, asks the provider, finds it unpaid and closes it.
  s.Sql("UPDATE payment.orders SET pay_deadline = now() - interval '1 hour' WHERE id = '" + order +
        "'");
  EXPECT_TRUE(PollUntil(15, [&] { return Status(order) == "CLOSED"; })) << Status(order);
  EXPECT_EQ(s.Sql("SELECT closed_at IS NOT NULL FROM payment.sandbox_trades WHERE order_id = '" +
                  order + "'"),
            "t");
  // The payer can no longer pay it at the provider.
  ExpectError(s.Call("POST", "/v1/dev/payments/" + order + ":pay", "{}"), 409, "TRADE_CLOSED");
  // Money that still arrives for it (a provider that paid anyway) is kept for refund.
  EXPECT_EQ(
      Send(sandbox_->Sign(payment::SandboxProvider::Body(Notice(order, 5500)), absl::Now())).body,
      "success");
  EXPECT_EQ(Status(order), "CLOSED");
  EXPECT_EQ(s.Sql("SELECT refund_due FROM payment.orders WHERE id = '" + order + "'"), "t");
  EXPECT_EQ(Ledger(order), 1);
  EXPECT_EQ(PaymentStep(st), "TODO");
}

TEST_F(PaymentHttpTest, NoFeeMeansNoPaymentEndpoint) {
  Setup st = Candidate(0);
  ExpectError(Open(st), 409, "PAYMENT_NOT_REQUIRED");
  ExpectError(s.Call("GET", "/v1/exams/" + st.exam + "/payment", "", Bearer(st.rc.token)), 409,
              "PAYMENT_NOT_REQUIRED");
  EXPECT_EQ(PaymentStep(st), "NOT_REQUIRED");
}

TEST_F(PaymentHttpTest, IdempotencyKeyReplaysAndRefusesOtherParameters) {
  Setup st = Candidate(5000);
  std::string key = "k-" + Unique();
  auto first = Open(st, {{"Idempotency-Key", key}});
  ASSERT_EQ(first.status, 200) << first.body;
  auto again = Open(st, {{"Idempotency-Key", key}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, first.body);
  // The same key for another exam.
  std::string exam2 = CreateExam(st.school, 7000);
  Enroll(exam2, st.rc);
  auto h = Bearer(st.rc.token);
  h["Idempotency-Key"] = key;
  ExpectError(s.Call("POST", "/v1/exams/" + exam2 + "/payment", "", h), 409,
              "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM payment.orders WHERE exam_id = '" + exam2 + "'"), 0);
}

TEST_F(PaymentHttpTest, ACandidateNeverSeesAnotherCandidatesOrder) {
  Setup st = Candidate(3000);
  ASSERT_EQ(Open(st).status, 200);
  ReadyCandidate other = VerifiedCandidate(s);
  ReadNotice(other.token);
  auto r = s.Call("GET", "/v1/exams/" + st.exam + "/payment", "", Bearer(other.token));
  EXPECT_TRUE(r.status == 403 || r.status == 404) << r.status << " " << r.body;
  EXPECT_EQ(r.body.find(Open(st).Str("orderId")), std::string::npos);
  // Off the roster: no order either.
  auto open = s.Call("POST", "/v1/exams/" + st.exam + "/payment", "", Bearer(other.token));
  ExpectError(open, 403, "NOT_ELIGIBLE");
  // Staff lists need staff.
  EXPECT_EQ(
      s.Call("GET", "/v1/admin/exams/" + st.exam + "/payments", "", Bearer(other.token)).status,
      403);
}

TEST_F(PaymentHttpTest, ALostNotificationIsReconciled) {
  Setup st = Candidate(8800);
  std::string order = Open(st).Str("orderId");
  auto pay = s.Call("POST", "/v1/dev/payments/" + order + ":pay", R"({"drop":true})");
  ASSERT_EQ(pay.status, 200) << pay.body;
  EXPECT_EQ(Status(order), "UNPAID");
  // The provider's records outlive the payment service (as a real provider's do): a
  // restart in between does not lose the payment.
  s.KillAndRestartPayment();
  // The stack reconciles orders UNPAID for 2 s, every second.
  absl::Time until = absl::Now() + absl::Seconds(15);
  while (Status(order) != "PAID" && absl::Now() < until) absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Status(order), "PAID");
  EXPECT_EQ(Ledger(order), 1);
  EXPECT_EQ(PaymentStep(st), "DONE");
}

TEST_F(PaymentHttpTest, ALatePaymentIsKeptForRefundAndNoOrderAfterTheDeadline) {
  Setup st = Candidate(6600, absl::Seconds(5));
  std::string order = Open(st).Str("orderId");
  ASSERT_FALSE(order.empty());
  auto pay = s.Call("POST", "/v1/dev/payments/" + order + ":pay", R"({"delayMs":6500})");
  ASSERT_EQ(pay.status, 200) << pay.body;
  EXPECT_NE(pay.body.find("success"), std::string::npos) << pay.body;
  EXPECT_EQ(Status(order), "CLOSED");
  EXPECT_EQ(s.Sql("SELECT refund_due FROM payment.orders WHERE id = '" + order + "'"), "t");
  EXPECT_EQ(Ledger(order), 1);
  EXPECT_EQ(PaymentStep(st), "TODO");
  ExpectError(Open(st), 409, "PAYMENT_CLOSED");

  // Staff see it, refund it with a reason, and export the exam's payments.
  auto list =
      s.Call("GET", "/v1/admin/exams/" + st.exam + "/payments?status=CLOSED", "", Bearer(op_));
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find(order), std::string::npos);
  EXPECT_NE(list.body.find("\"refundDue\":true"), std::string::npos) << list.body;
  ExpectError(s.Call("POST", "/v1/admin/payments/" + order + ":refund", "{}", Bearer(op_)), 400,
              "INVALID_ARGUMENT");
  auto refund = s.Call("POST", "/v1/admin/payments/" + order + ":refund",
                       R"({"reason":"paid after the deadline"})", Bearer(op_));
  ASSERT_EQ(refund.status, 200) << refund.body;
  EXPECT_EQ(Status(order), "REFUNDED");
  EXPECT_EQ(Ledger(order), 2);
  ExpectError(s.Call("POST", "/v1/admin/payments/" + order + ":refund", R"({"reason":"again"})",
                     Bearer(op_)),
              409, "NOT_REFUNDABLE");
  auto csv = s.Call("GET", "/v1/admin/exams/" + st.exam + "/payments:export", "", Bearer(op_));
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.body.rfind("orderId,accountId,amountCents,", 0), 0u) << csv.body;
  EXPECT_NE(csv.body.find(order + ","), std::string::npos);
  EXPECT_NE(csv.body.find("REFUNDED"), std::string::npos);
}

TEST_F(PaymentHttpTest, ConcurrentRefundsRefundOnce) {
  Setup st = Candidate(7700);
  std::string order = Open(st).Str("orderId");
  ASSERT_FALSE(order.empty());
  ASSERT_EQ(s.Call("POST", "/v1/dev/payments/" + order + ":pay", "{}").status, 200);
  ASSERT_EQ(Status(order), "PAID");
  // Ten staff press "refund" together: one refund goes through; the others are told
  // that one is in progress or done; the ledger has one refund row and the provider
  // made one refund.
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> staff;
  for (int i = 0; i < 10; ++i) {
    staff.emplace_back([&] {
      auto r = s.Call("POST", "/v1/admin/payments/" + order + ":refund",
                      R"({"reason":"duplicate enrolment"})", Bearer(op_));
      if (r.status == 200) {
        ++ok;
      } else if (r.status == 409 &&
                 (r.ErrorCode() == "REFUND_IN_PROGRESS" || r.ErrorCode() == "NOT_REFUNDABLE")) {
        ++refused;
      }
    });
  }
  for (auto& t : staff) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 9);
  EXPECT_EQ(Status(order), "REFUNDED");
  EXPECT_EQ(s.Sql("SELECT count(*) FROM payment.ledger WHERE order_id = '" + order +
                  "' AND kind = 'REFUND'"),
            "1");
  EXPECT_EQ(s.Sql("SELECT refunds FROM payment.sandbox_trades WHERE order_id = '" + order + "'"),
            "1");
}

TEST_F(PaymentHttpTest, KilledMidNotificationTheRetriesSettleEachOrderOnce) {
  std::vector<std::string> orders;
  std::vector<payment::RawNotification> raws;
  for (int i = 0; i < 6; ++i) {
    Setup st = Candidate(1000 + i);
    orders.push_back(Open(st).Str("orderId"));
    ASSERT_FALSE(orders.back().empty());
    raws.push_back(sandbox_->Sign(payment::SandboxProvider::Body(Notice(orders.back(), 1000 + i)),
                                  absl::Now()));
  }
  // Notifications in flight, concurrently and repeatedly, when the service is SIGKILLed.
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (const auto& raw : raws) {
    senders.emplace_back([&, raw] {
      while (!stop.load()) (void)Send(raw);
    });
  }
  absl::SleepFor(absl::Milliseconds(150));
  s.KillAndRestartPayment();
  stop = true;
  for (auto& t : senders) t.join();
  // The provider retries each notification until it hears "success".
  for (const auto& raw : raws) {
    absl::Time until = absl::Now() + absl::Seconds(30);
    HttpResponse r;
    do {
      r = Send(raw);
      if (r.status == 200) break;
      absl::SleepFor(absl::Milliseconds(200));
    } while (absl::Now() < until);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "success");
  }
  for (const auto& order : orders) {
    EXPECT_EQ(Status(order), "PAID") << order;
    EXPECT_EQ(Ledger(order), 1) << order;
    EXPECT_EQ(
        SqlInt(s, "SELECT count(*) FROM payment.notifications WHERE order_id = '" + order + "'"),
        1);
  }
}

}  // namespace
}  // namespace admissions::testing
