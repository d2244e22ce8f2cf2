// Brute-force defence, password reset across gateway instances and username
// recovery (R2), through the gateway over real HTTP with the real PostgreSQL and
// Redis that `make test` starts.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "integration/harness.h"

namespace admissions::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The gateway's own answer for a token of an ended session (identity words it
// differently), so that a test can tell which of the two refused.
constexpr char kGatewayRevokedMessage[] = "the session of this access token has ended";

class IdentitySecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every test logs in from 127.0.0.1: keep the per-address limits out of the way.
    s.RedisDeleteMatching("rl:login-ip:127.0.0.1");
    s.RedisDeleteMatching("rl:sms-ip:127.0.0.1");
  }

  // A second gateway instance on the same identity-service and Redis.
  int SecondGateway() {
    static int port = s.StartGateway();
    return port;
  }

  // A client address of its own (127.0.0.0/8 is all loopback), for per-IP limits.
  static std::string FreshSourceIp() {
    static int next = 2 + static_cast<int>(RandomBytes(1)[0] & 0x3f);
    ++next;
    return absl::StrCat("127.0.", 100 + next / 250, ".", next % 250 + 1);
  }

  HttpResponse TryLogin(const std::string& login, const std::string& password,
                        const Via& via = {}) {
    return s.CallVia(via, "POST", "/v1/sessions",
                     R"({"login":")" + login + R"(","password":")" + password + R"("})");
  }

  HttpResponse SendCode(const std::string& phone, const std::string& purpose, const Via& via = {}) {
    return s.CallVia(via, "POST", "/v1/sms-codes",
                     R"({"phone":")" + phone + R"(","purpose":")" + purpose + R"("})");
  }

  HttpResponse Reset(const std::string& login, const std::string& code,
                     const std::string& new_password) {
    return s.Call("POST", "/v1/password-resets",
                  R"({"login":")" + login + R"(","smsCode":")" + code + R"(","newPassword":")" +
                      new_password + R"("})");
  }

  int Audits(const std::string& kind, const std::string& account_id = "") {
    return SqlInt(s, "SELECT count(*) FROM identity.audit_events WHERE kind = '" + kind + "'" +
                         (account_id.empty() ? "" : " AND account_id = '" + account_id + "'"));
  }

  // A 429 with Retry-After matching error.details.retryAfterSeconds, within `max`.
  void ExpectRateLimited(const HttpResponse& r, int max_seconds) {
    ExpectError(r, 429, "RATE_LIMITED");
    auto it = r.headers.find("retry-after");
    ASSERT_NE(it, r.headers.end()) << r.body;
    int retry = std::atoi(it->second.c_str());
    EXPECT_GT(retry, 0);
    EXPECT_LE(retry, max_seconds);
    EXPECT_EQ(r.Str("error.details.retryAfterSeconds"), it->second) << r.body;
  }

  // The body with its numbers blanked (seconds to wait may differ by one).
  static std::string WithoutNumbers(const std::string& body) {
    return std::regex_replace(body, std::regex("[0-9]+"), "N");
  }

  Stack& s = Stack::Get();
};

// ---- Brute force

TEST_F(IdentitySecurityTest, TenWrongPasswordsThrottleTheLogin) {
  Candidate c = RegisterCandidate(s);
  int throttled_before = Audits("LOGIN_THROTTLED");
  for (int i = 0; i < 10; ++i) {
    ExpectError(TryLogin(c.phone, "wrong-password-" + std::to_string(i)), 401, "UNAUTHENTICATED");
  }
  EXPECT_EQ(Audits("LOGIN_FAILED", c.account_id), 10);
  // The 11th attempt, even with the right password.
  auto locked = TryLogin(c.phone, c.password);
  ExpectRateLimited(locked, 15 * 60);
  EXPECT_TRUE(locked.Str("accessToken").empty());
  EXPECT_GT(Audits("LOGIN_THROTTLED"), throttled_before);
  // The counter lives in Redis, not in a gateway: another instance says the same.
  ExpectRateLimited(TryLogin(c.phone, c.password, Via{SecondGateway(), ""}), 15 * 60);

  // An unknown login is throttled alike, in status and body.
  std::string unknown = NewPhone();
  for (int i = 0; i < 10; ++i) {
    ExpectError(TryLogin(unknown, "wrong-password-" + std::to_string(i)), 401, "UNAUTHENTICATED");
  }
  auto unknown_locked = TryLogin(unknown, "wrong-password");
  ExpectRateLimited(unknown_locked, 15 * 60);
  EXPECT_EQ(WithoutNumbers(unknown_locked.body), WithoutNumbers(locked.body));

  // Another account from the same address is not affected (10 failures < 50).
  Candidate other = RegisterCandidate(s);
  EXPECT_EQ(TryLogin(other.phone, other.password).status, 200);
}

TEST_F(IdentitySecurityTest, UnknownAccountAndWrongPasswordAnswerAlikeAndTakeAsLong) {
  Candidate c = RegisterCandidate(s);
  std::vector<double> wrong, unknown;
  std::string wrong_body, unknown_body;
  for (int i = 0; i < 7; ++i) {
    auto start = Clock::now();
    auto r = TryLogin(c.phone, "not-the-password");
    wrong.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    EXPECT_EQ(r.status, 401);
    wrong_body = r.body;
    start = Clock::now();
    r = TryLogin(NewPhone(), "not-the-password");
    unknown.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    EXPECT_EQ(r.status, 401);
    unknown_body = r.body;
  }
  EXPECT_EQ(wrong_body, unknown_body);
  std::sort(wrong.begin(), wrong.end());
  std::sort(unknown.begin(), unknown.end());
  double wrong_median = wrong[3], unknown_median = unknown[3];
  // An unknown login hashes a dummy password: it does not answer measurably faster.
  // (Without the dummy hash it answers in well under a tenth of the time.)
  EXPECT_GT(unknown_median, 0.5 * wrong_median)
      << "unknown " << unknown_median << " s, wrong password " << wrong_median << " s";
}

TEST_F(IdentitySecurityTest, FiftyFailuresFromOneAddressThrottleIt) {
  Candidate c = RegisterCandidate(s);
  Via attacker{0, FreshSourceIp()};
  for (int i = 0; i < 50; ++i) {
    // Each login only once: only the per-address counter reaches its limit.
    ExpectError(TryLogin(NewPhone(), "guess-" + std::to_string(i), attacker), 401,
                "UNAUTHENTICATED");
  }
  ExpectRateLimited(TryLogin(c.phone, c.password, attacker), 15 * 60);
  // Everyone else still logs in.
  EXPECT_EQ(TryLogin(c.phone, c.password).status, 200);
}

TEST_F(IdentitySecurityTest, SmsCodesAreLimitedPerAddress) {
  Via sender{0, FreshSourceIp()};
  for (int i = 0; i < 20; ++i) {
    auto r = SendCode(NewPhone(), "REGISTER", sender);
    ASSERT_EQ(r.status, 202) << i << " " << r.body;
  }
  ExpectRateLimited(SendCode(NewPhone(), "REGISTER", sender), 3600);
  EXPECT_EQ(SendCode(NewPhone(), "REGISTER").status, 202);
}

// ---- Password reset

TEST_F(IdentitySecurityTest, ResetCodesAreSingleUseShortLivedAndHashed) {
  Candidate c = RegisterCandidate(s);
  ASSERT_EQ(SendCode(c.phone, "RESET_PASSWORD").status, 202);
  std::string code = LatestSmsCode(s, c.phone);
  ASSERT_EQ(code.size(), 6u);
  std::string latest = "(SELECT max(id) FROM identity.sms_codes)";
  std::string hash = s.Sql("SELECT code_hash FROM identity.sms_codes WHERE id = " + latest);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash.find(code), std::string::npos);
  EXPECT_LE(SqlInt(s,
                   "SELECT extract(epoch FROM expires_at - created_at)::int FROM "
                   "identity.sms_codes WHERE id = " +
                       latest),
            600);

  // Asking for a reset, and getting its code wrong, never locks the account.
  std::string wrong = code == "000000" ? "000001" : "000000";
  ExpectError(Reset(c.phone, wrong, "new-pass-word-1"), 400, "INVALID_ARGUMENT", "smsCode");
  EXPECT_EQ(TryLogin(c.phone, c.password).status, 200);
  // An unknown login reads as a wrong code.
  ExpectError(Reset(NewPhone(), code, "new-pass-word-1"), 400, "INVALID_ARGUMENT", "smsCode");

  ASSERT_EQ(Reset(c.id_number, code, "new-pass-word-1").status, 204);
  EXPECT_EQ(Audits("PASSWORD_RESET", c.account_id), 1);
  auto reused = Reset(c.phone, code, "new-pass-word-2");
  ExpectError(reused, 400, "INVALID_ARGUMENT", "smsCode");
  EXPECT_EQ(TryLogin(c.phone, "new-pass-word-1").status, 200);
  EXPECT_EQ(TryLogin(c.phone, "new-pass-word-2").status, 401);

  // Expired.
  s.RedisDeleteMatching("rl:sms:*");  // The per-phone interval is not under test here.
  ASSERT_EQ(SendCode(c.phone, "RESET_PASSWORD").status, 202);
  std::string code2 = LatestSmsCode(s, c.phone);
  s.Sql("UPDATE identity.sms_codes SET expires_at = now() - interval '1 second' WHERE id = " +
        latest);
  auto expired = Reset(c.phone, code2, "new-pass-word-3");
  ExpectError(expired, 400, "INVALID_ARGUMENT", "smsCode");
  EXPECT_NE(expired.Str("error.message").find("expired"), std::string::npos) << expired.body;
  EXPECT_EQ(TryLogin(c.phone, "new-pass-word-1").status, 200);
  EXPECT_EQ(Audits("PASSWORD_RESET", c.account_id), 1);
}

TEST_F(IdentitySecurityTest, ResetEndsEverySessionOnEveryGatewayWithinOneSecond) {
  Via second{SecondGateway(), ""};
  Candidate c = RegisterCandidate(s);
  auto [t1, r1] = Login(s, c.phone, c.password);
  auto [t2, r2] = Login(s, c.id_number, c.password);
  // Both tokens work on both instances. (GET /v1/agreement: identity checks the token
  // but not the session row, so a refusal shows the revocation broadcast at work.)
  for (const auto& t : {t1, t2}) {
    EXPECT_EQ(s.Call("GET", "/v1/agreement", "", Bearer(t)).status, 200);
    EXPECT_EQ(s.CallVia(second, "GET", "/v1/agreement", "", Bearer(t)).status, 200);
  }

  ASSERT_EQ(SendCode(c.phone, "RESET_PASSWORD").status, 202);
  auto reset = Reset(c.phone, LatestSmsCode(s, c.phone), "new-pass-word-1");
  ASSERT_EQ(reset.status, 204) << reset.body;
  auto reset_at = Clock::now();

  // The second instance refuses both tokens by itself within one second.
  for (const auto& t : {t1, t2}) {
    HttpResponse last;
    bool refused =
        PollUntil(1.0 - std::chrono::duration<double>(Clock::now() - reset_at).count(), [&] {
          last = s.CallVia(second, "GET", "/v1/agreement", "", Bearer(t));
          return last.status == 401 && last.Str("error.message") == kGatewayRevokedMessage;
        });
    EXPECT_TRUE(refused) << "last answer: " << last.status << " " << last.body;
  }
  for (const auto& t : {t1, t2}) {
    auto r = s.Call("GET", "/v1/agreement", "", Bearer(t));
    ExpectError(r, 401, "UNAUTHENTICATED");
    ExpectError(s.CallVia(second, "GET", "/v1/me", "", Bearer(t)), 401, "UNAUTHENTICATED");
  }
  for (const auto& r : {r1, r2}) {
    ExpectError(
        s.CallVia(second, "POST", "/v1/sessions:refresh", R"({"refreshToken":")" + r + "\"}"), 401,
        "UNAUTHENTICATED");
  }
  // The new password works on either instance.
  EXPECT_EQ(TryLogin(c.phone, "new-pass-word-1", second).status, 200);
}

// ---- Username recovery

TEST_F(IdentitySecurityTest, UsernameRecoveryBySmsCode) {
  Candidate c = RegisterCandidate(s);
  ASSERT_EQ(SendCode(c.phone, "RECOVER_USERNAME").status, 202);
  std::string code = LatestSmsCode(s, c.phone);
  std::string wrong = code == "000000" ? "000001" : "000000";
  auto body = [&](const std::string& phone, const std::string& sms) {
    return R"({"phone":")" + phone + R"(","smsCode":")" + sms + R"("})";
  };
  ExpectError(s.Call("POST", "/v1/username-recoveries", body(c.phone, wrong)), 400,
              "INVALID_ARGUMENT", "smsCode");
  ExpectError(s.Call("POST", "/v1/username-recoveries", body("12345", code)), 400,
              "INVALID_ARGUMENT", "phone");

  auto r = s.Call("POST", "/v1/username-recoveries", body(c.phone, code));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("phoneMasked"), c.phone.substr(0, 3) + "****" + c.phone.substr(7));
  EXPECT_EQ(r.Str("idNumberMasked"),
            c.id_number.substr(0, 3) + std::string(11, '*') + c.id_number.substr(14));
  EXPECT_EQ(r.Str("idType"), "RESIDENT_ID");
  EXPECT_EQ(r.body.find(c.id_number), std::string::npos);
  // The code is used up.
  ExpectError(s.Call("POST", "/v1/username-recoveries", body(c.phone, code)), 400,
              "INVALID_ARGUMENT", "smsCode");

  // A phone without an account: the same 202, and nothing is sent.
  std::string stranger = NewPhone();
  EXPECT_EQ(SendCode(stranger, "RECOVER_USERNAME").status, 202);
  EXPECT_EQ(LatestSmsCode(s, stranger), "");
  ExpectError(s.Call("POST", "/v1/username-recoveries", body(stranger, code)), 400,
              "INVALID_ARGUMENT", "smsCode");
}

}  // namespace
}  // namespace admissions::testing
