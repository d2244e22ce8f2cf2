// The account spine through the gateway over real HTTP, with the real
// PostgreSQL and Redis that `make test` starts.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/token.h"
#include "integration/harness.h"

namespace admissions::testing {
namespace {

class IdentityHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();

  // Every test here comes from 127.0.0.1: start each with fresh per-IP and
  // per-login counters (ctest runs the binaries one at a time).
  void SetUp() override { s.RedisDeleteMatching("rl:*"); }

  int Accounts() { return std::stoi(s.Sql("SELECT count(*) FROM identity.accounts")); }

  std::string AccountJson(const std::string& phone, const std::string& code,
                          const std::string& id_number, const std::string& password = "pass-word-1",
                          const std::string& extra = "") {
    return absl::StrCat(R"({"phone":")", phone, R"(","smsCode":")", code, R"(","password":")",
                        password, R"(","name":"李四","idType":"RESIDENT_ID","idNumber":")",
                        id_number, "\"", extra, "}");
  }

  // Sends a REGISTER code to a fresh phone and returns {phone, code}.
  std::pair<std::string, std::string> FreshCode() {
    std::string phone = NewPhone();
    auto r =
        s.Call("POST", "/v1/sms-codes", R"({"phone":")" + phone + R"(","purpose":"REGISTER"})");
    EXPECT_EQ(r.status, 202) << r.body;
    return {phone, LatestSmsCode(s, phone)};
  }

  void ExpectError(const HttpResponse& r, int status, const std::string& code,
                   const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.ErrorCode(), code) << r.body;
    EXPECT_FALSE(r.Str("error.message").empty()) << r.body;
    if (!field.empty()) {
      EXPECT_EQ(r.Str("error.details.field"), field) << r.body;
    }
  }
};

TEST_F(IdentityHttpTest, RegisterLoginMeRefreshLogout) {
  Candidate c = RegisterCandidate(s);
  ASSERT_FALSE(c.account_id.empty());

  // Login by phone, and by ID number typed with a lower-case x.
  auto [access, refresh] = Login(s, c.phone, c.password);
  ASSERT_FALSE(access.empty());
  std::string lower_id = c.id_number;
  for (auto& ch : lower_id) ch = static_cast<char>(std::tolower(ch));
  auto by_id = s.Call("POST", "/v1/sessions",
                      R"({"login":")" + lower_id + R"(","password":")" + c.password + R"("})");
  EXPECT_EQ(by_id.status, 200) << by_id.body;
  EXPECT_EQ(by_id.Str("expiresInSeconds"), "900");

  auto me = s.Call("GET", "/v1/me", "", Bearer(access));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Str("accountId"), c.account_id);
  EXPECT_EQ(me.Str("name"), "张三");
  EXPECT_EQ(me.Str("idType"), "RESIDENT_ID");
  EXPECT_EQ(me.Str("idNumberMasked"),
            c.id_number.substr(0, 3) + std::string(11, '*') + c.id_number.substr(14));
  EXPECT_EQ(me.Str("phoneMasked"), c.phone.substr(0, 3) + "****" + c.phone.substr(7));
  EXPECT_EQ(me.body.find(c.id_number), std::string::npos);
  EXPECT_EQ(me.Find("roles")->list_value().values(0).string_value(), "CANDIDATE");
  EXPECT_EQ(me.Str("agreementAccepted"), "false");  // Primitive fields always printed.

  // Refresh rotates: the old refresh token stops working.
  auto rotated = s.Call("POST", "/v1/sessions:refresh", R"({"refreshToken":")" + refresh + "\"}");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_NE(rotated.Str("refreshToken"), refresh);
  std::string access2 = rotated.Str("accessToken");
  EXPECT_EQ(s.Call("GET", "/v1/me", "", Bearer(access2)).status, 200);

  // Logout: the access token and the (new) refresh token stop working.
  auto out = s.Call("DELETE", "/v1/sessions/current", "", Bearer(access2));
  EXPECT_EQ(out.status, 204) << out.body;
  EXPECT_TRUE(out.body.empty());
  ExpectError(s.Call("GET", "/v1/me", "", Bearer(access2)), 401, "UNAUTHENTICATED");
  ExpectError(s.Call("GET", "/v1/me", "", Bearer(access)), 401, "UNAUTHENTICATED");
  ExpectError(s.Call("POST", "/v1/sessions:refresh",
                     R"({"refreshToken":")" + rotated.Str("refreshToken") + "\"}"),
              401, "UNAUTHENTICATED");
  // The other session (logged in by ID number) is untouched.
  EXPECT_EQ(s.Call("GET", "/v1/me", "", Bearer(by_id.Str("accessToken"))).status, 200);
}

TEST_F(IdentityHttpTest, PiiIsSealedAtRest) {
  Candidate c = RegisterCandidate(s);
  std::string row = s.Sql("SELECT row_to_json(a)::text FROM identity.accounts a WHERE id = '" +
                          c.account_id + "'");
  ASSERT_FALSE(row.empty());
  EXPECT_EQ(row.find(c.id_number), std::string::npos);
  EXPECT_EQ(row.find(c.phone), std::string::npos);
  std::string outbox =
      s.Sql("SELECT string_agg(row_to_json(o)::text, '') FROM identity.sms_outbox o");
  EXPECT_EQ(outbox.find(c.phone), std::string::npos);
}

TEST_F(IdentityHttpTest, ReusedRefreshTokenEndsTheSession) {
  Candidate c = RegisterCandidate(s);
  auto [access, refresh] = Login(s, c.phone, c.password);
  auto first = s.Call("POST", "/v1/sessions:refresh", R"({"refreshToken":")" + refresh + "\"}");
  ASSERT_EQ(first.status, 200);
  // The stolen copy comes back: the session ends for everyone.
  ExpectError(s.Call("POST", "/v1/sessions:refresh", R"({"refreshToken":")" + refresh + "\"}"), 401,
              "UNAUTHENTICATED");
  ExpectError(s.Call("POST", "/v1/sessions:refresh",
                     R"({"refreshToken":")" + first.Str("refreshToken") + "\"}"),
              401, "UNAUTHENTICATED");
  ExpectError(s.Call("GET", "/v1/me", "", Bearer(first.Str("accessToken"))), 401,
              "UNAUTHENTICATED");
}

TEST_F(IdentityHttpTest, UnknownAccountAndWrongPasswordLookAlike) {
  Candidate c = RegisterCandidate(s);
  auto wrong = s.Call("POST", "/v1/sessions",
                      R"({"login":")" + c.phone + R"(","password":"not-the-password"})");
  auto unknown = s.Call("POST", "/v1/sessions",
                        R"({"login":")" + NewPhone() + R"(","password":"not-the-password"})");
  ExpectError(wrong, 401, "UNAUTHENTICATED");
  EXPECT_EQ(wrong.status, unknown.status);
  EXPECT_EQ(wrong.body, unknown.body);
}

TEST_F(IdentityHttpTest, PasswordResetEndsEverySession) {
  Candidate c = RegisterCandidate(s);
  auto [access, refresh] = Login(s, c.phone, c.password);
  auto sent = s.Call("POST", "/v1/sms-codes",
                     R"({"phone":")" + c.phone + R"(","purpose":"RESET_PASSWORD"})");
  ASSERT_EQ(sent.status, 202);
  std::string code = LatestSmsCode(s, c.phone);
  ExpectError(s.Call("POST", "/v1/password-resets",
                     R"({"login":")" + c.id_number + R"(","smsCode":")" + code +
                         R"(","newPassword":"short"})"),
              400, "INVALID_ARGUMENT", "newPassword");
  auto reset = s.Call("POST", "/v1/password-resets",
                      R"({"login":")" + c.id_number + R"(","smsCode":")" + code +
                          R"(","newPassword":"new-pass-word"})");
  ASSERT_EQ(reset.status, 204) << reset.body;
  ExpectError(s.Call("GET", "/v1/me", "", Bearer(access)), 401, "UNAUTHENTICATED");
  ExpectError(s.Call("POST", "/v1/sessions:refresh", R"({"refreshToken":")" + refresh + "\"}"), 401,
              "UNAUTHENTICATED");
  ExpectError(s.Call("POST", "/v1/sessions",
                     R"({"login":")" + c.phone + R"(","password":")" + c.password + "\"}"),
              401, "UNAUTHENTICATED");
  Login(s, c.phone, "new-pass-word");
  // The code was used once and is gone.
  ExpectError(s.Call("POST", "/v1/password-resets",
                     R"({"login":")" + c.phone + R"(","smsCode":")" + code +
                         R"(","newPassword":"other-pass-word"})"),
              400, "INVALID_ARGUMENT", "smsCode");
}

TEST_F(IdentityHttpTest, SmsCodesAreRateLimitedPerPhone) {
  std::string phone = NewPhone();
  std::string body = R"({"phone":")" + phone + R"(","purpose":"REGISTER"})";
  EXPECT_EQ(s.Call("POST", "/v1/sms-codes", body).status, 202);
  auto again = s.Call("POST", "/v1/sms-codes", body);
  ExpectError(again, 429, "RATE_LIMITED");
  int retry = std::atoi(again.headers["retry-after"].c_str());
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 60);
}

TEST_F(IdentityHttpTest, DevOperatorCanLogIn) {
  auto [access, refresh] = Login(s, "operator", "operator-dev-pass");
  auto me = s.Call("GET", "/v1/me", "", Bearer(access));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Find("roles")->list_value().values(0).string_value(), "OPERATOR");
}

// ---- Bad input: each gets a clear 4xx with the error body, and nothing is written.

TEST_F(IdentityHttpTest, BadRegistrationsWriteNothing) {
  auto [phone, code] = FreshCode();
  std::string id = NewResidentId();
  int before = Accounts();

  ExpectError(s.Call("POST", "/v1/accounts", R"({"phone": "13)"), 400, "INVALID_ARGUMENT");
  ExpectError(s.Call("POST", "/v1/accounts",
                     AccountJson(phone, code, id, "pass-word-1", R"(,"nickname":"x")")),
              400, "INVALID_ARGUMENT");
  ExpectError(
      s.Call("POST", "/v1/accounts", R"({"phone":13800138000,"smsCode":")" + code + R"("})"), 400,
      "INVALID_ARGUMENT");
  ExpectError(s.Call("POST", "/v1/accounts", R"({"phone":")" + phone + R"("})"), 400,
              "INVALID_ARGUMENT");
  ExpectError(s.Call("POST", "/v1/accounts",
                     AccountJson(phone, code, id.substr(0, 17) + (id[17] == '0' ? "1" : "0"))),
              400, "INVALID_ARGUMENT", "idNumber");
  ExpectError(s.Call("POST", "/v1/accounts", AccountJson("1380013800", code, id)), 400,
              "INVALID_ARGUMENT", "phone");
  ExpectError(s.Call("POST", "/v1/accounts", AccountJson("23800138000", code, id)), 400,
              "INVALID_ARGUMENT", "phone");
  ExpectError(s.Call("POST", "/v1/accounts", AccountJson(phone, code, id, "1234567")), 400,
              "INVALID_ARGUMENT", "password");
  ExpectError(s.Call("POST", "/v1/accounts", AccountJson(phone, code, id, std::string(65, 'p'))),
              400, "INVALID_ARGUMENT", "password");
  ExpectError(s.Call("POST", "/v1/accounts",
                     absl::StrCat(R"({"phone":")", phone, R"(","smsCode":")", code,
                                  R"(","password":"pass-word-1","name":"x","idType":"DRIVING",)",
                                  R"("idNumber":")", id, R"("})")),
              400, "INVALID_ARGUMENT");
  std::string wrong_code = code == "000000" ? "000001" : "000000";
  ExpectError(s.Call("POST", "/v1/accounts", AccountJson(phone, wrong_code, id)), 400,
              "INVALID_ARGUMENT", "smsCode");
  // A 2 MB body.
  std::string big = R"({"phone":")" + phone + R"(","name":")" + std::string(2 << 20, 'a') + "\"}";
  ExpectError(s.Call("POST", "/v1/accounts", big), 413, "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(Accounts(), before);

  // After all that, the right code still works once.
  EXPECT_EQ(s.Call("POST", "/v1/accounts", AccountJson(phone, code, id)).status, 201);
  EXPECT_EQ(Accounts(), before + 1);
}

TEST_F(IdentityHttpTest, DuplicatePhoneOrIdNumberIs409) {
  Candidate c = RegisterCandidate(s);
  int before = Accounts();
  {
    auto [phone, code] = FreshCode();
    ExpectError(s.Call("POST", "/v1/accounts", AccountJson(phone, code, c.id_number)), 409,
                "ALREADY_EXISTS", "idNumber");
  }
  {
    // A second REGISTER code for the same phone; the per-phone SMS limit is not what
    // is tested here, so lift it.
    s.RedisDeleteMatching("rl:sms:*");
    auto sent =
        s.Call("POST", "/v1/sms-codes", R"({"phone":")" + c.phone + R"(","purpose":"REGISTER"})");
    ASSERT_EQ(sent.status, 202) << sent.body;
    std::string code = LatestSmsCode(s, c.phone);
    ExpectError(s.Call("POST", "/v1/accounts", AccountJson(c.phone, code, NewResidentId())), 409,
                "ALREADY_EXISTS", "phone");
  }
  EXPECT_EQ(Accounts(), before);
}

TEST_F(IdentityHttpTest, ExpiredAndReusedCodesAreRefused) {
  auto [phone, code] = FreshCode();
  s.Sql(
      "UPDATE identity.sms_codes SET expires_at = now() - interval '1 second' WHERE id = "
      "(SELECT max(id) FROM identity.sms_codes)");
  auto expired = s.Call("POST", "/v1/accounts", AccountJson(phone, code, NewResidentId()));
  ExpectError(expired, 400, "INVALID_ARGUMENT", "smsCode");
  EXPECT_NE(expired.Str("error.message").find("expired"), std::string::npos);

  auto [phone2, code2] = FreshCode();
  EXPECT_EQ(s.Call("POST", "/v1/accounts", AccountJson(phone2, code2, NewResidentId())).status,
            201);
  ExpectError(s.Call("POST", "/v1/accounts", AccountJson(phone2, code2, NewResidentId())), 400,
              "INVALID_ARGUMENT", "smsCode");
}

TEST_F(IdentityHttpTest, WrongCodesExhaustTheCode) {
  auto [phone, code] = FreshCode();
  std::string wrong = code == "111111" ? "222222" : "111111";
  for (int i = 0; i < 5; ++i) {
    ExpectError(s.Call("POST", "/v1/accounts", AccountJson(phone, wrong, NewResidentId())), 400,
                "INVALID_ARGUMENT", "smsCode");
  }
  // Even the right code is no good now.
  auto r = s.Call("POST", "/v1/accounts", AccountJson(phone, code, NewResidentId()));
  ExpectError(r, 400, "INVALID_ARGUMENT", "smsCode");
  EXPECT_NE(r.Str("error.message").find("too many"), std::string::npos);
}

TEST_F(IdentityHttpTest, BadTokensAre401) {
  Candidate c = RegisterCandidate(s);
  auto [access, refresh] = Login(s, c.phone, c.password);
  ExpectError(s.Call("GET", "/v1/me"), 401, "UNAUTHENTICATED");
  ExpectError(s.Call("GET", "/v1/me", "", {{"Authorization", "Basic abc"}}), 401,
              "UNAUTHENTICATED");
  // Tampered: flip a character of the claims.
  std::string tampered = access;
  size_t mid = tampered.find('.') + 5;
  tampered[mid] = tampered[mid] == 'A' ? 'B' : 'A';
  ExpectError(s.Call("GET", "/v1/me", "", Bearer(tampered)), 401, "UNAUTHENTICATED");
  // alg none with the real claims and no signature.
  std::string claims =
      access.substr(access.find('.') + 1, access.rfind('.') - access.find('.') - 1);
  std::string none = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + claims + ".";
  ExpectError(s.Call("GET", "/v1/me", "", Bearer(none)), 401, "UNAUTHENTICATED");
  // Expired: properly signed with the stack's key, exp in the past.
  auto signer = TokenSigner::FromBase64Seed(s.signing_key()).value();
  api::v1::TokenClaims old;
  old.set_sub(c.account_id);
  old.set_sid("00000000-0000-0000-0000-000000000000");
  old.add_roles("CANDIDATE");
  int64_t now = absl::ToUnixSeconds(absl::Now());
  old.set_iat(now - 3600);
  old.set_exp(now - 60);
  auto expired = s.Call("GET", "/v1/me", "", Bearer(signer.Sign(old)));
  ExpectError(expired, 401, "UNAUTHENTICATED");
  EXPECT_NE(expired.Str("error.message").find("expired"), std::string::npos);
}

TEST_F(IdentityHttpTest, RoutingErrors) {
  ExpectError(s.Call("GET", "/v1/nope"), 404, "NOT_FOUND");
  auto wrong_method = s.Call("PUT", "/v1/me", "{}");
  EXPECT_EQ(wrong_method.status, 405) << wrong_method.body;
  EXPECT_FALSE(wrong_method.ErrorCode().empty());
  EXPECT_FALSE(wrong_method.headers["allow"].empty());
  // Malformed HTTP gets a 400, not a hang or a crash.
  std::string raw = s.Raw("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(raw.find(" 400 "), std::string::npos) << raw;
  EXPECT_EQ(s.Call("GET", "/healthz").status, 200);
}

TEST_F(IdentityHttpTest, HealthReadinessMetrics) {
  EXPECT_EQ(s.Call("GET", "/healthz").status, 200);
  EXPECT_EQ(s.Call("GET", "/readyz").status, 200);
  auto metrics = s.Call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("gateway_requests_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("gateway_in_flight_requests"), std::string::npos);
}

}  // namespace
}  // namespace admissions::testing
