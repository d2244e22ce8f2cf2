// The candidate gates (user agreement, real-person verification), staff roles and
// the audit table, through the gateway over real HTTP with the real PostgreSQL and
// Redis that `make test` starts.
#include <gtest/gtest.h>

#include <atomic>
#include <pqxx/pqxx>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "integration/harness.h"

namespace admissions::testing {
namespace {

constexpr char kSomeUuid[] = "00000000-0000-4000-8000-000000000000";

class IdentityGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every test logs in from 127.0.0.1: keep the per-address limits out of the way.
    s.RedisDeleteMatching("rl:login-ip:127.0.0.1");
    s.RedisDeleteMatching("rl:sms-ip:127.0.0.1");
  }

  std::string OperatorToken() { return Login(s, "operator", "operator-dev-pass").first; }

  int Audits(const std::string& kind, const std::string& account_id) {
    return SqlInt(s, "SELECT count(*) FROM identity.audit_events WHERE kind = '" + kind +
                         "' AND account_id = '" + account_id + "'");
  }

  // A candidate with a token, nothing accepted yet.
  std::pair<Candidate, std::string> FreshCandidate() {
    Candidate c = RegisterCandidate(s);
    return {c, Login(s, c.phone, c.password).first};
  }

  // Passes verification through the QR scan and the simulator with `token`.
  void Verify(const std::string& token) {
    auto [id, qr] = StartVerification(s, token);
    auto scan =
        s.Call("POST", "/v1/verifications:scan", R"({"qrPayload":")" + qr + "\"}", Bearer(token));
    ASSERT_EQ(scan.status, 200) << scan.body;
    auto done = s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":true})");
    ASSERT_EQ(done.status, 200) << done.body;
  }

  std::string StaffJson(const std::string& school, const std::string& role,
                        const std::string& login, const std::string& password = "staff-pass-1") {
    return absl::StrCat(R"({"schoolId":")", school, R"(","role":")", role, R"(","login":")", login,
                        R"(","password":")", password, R"(","name":"王老师"})");
  }

  static std::string Suffix() { return HexEncode(RandomBytes(4)); }

  Stack& s = Stack::Get();
};

// ---- User agreement (R3, R23)

TEST_F(IdentityGateTest, AgreementGatesEveryCandidateEndpointUntilAccepted) {
  auto [c, token] = FreshCandidate();

  auto agreement = s.Call("GET", "/v1/agreement", "", Bearer(token));
  ASSERT_EQ(agreement.status, 200) << agreement.body;
  int version = std::atoi(agreement.Str("version").c_str());
  EXPECT_GE(version, 1);
  EXPECT_FALSE(agreement.Str("title").empty());
  EXPECT_FALSE(agreement.Str("text").empty());
  EXPECT_FALSE(agreement.Str("publishedAt").empty());

  // What a candidate may do before accepting: read "me", the agreement, log out.
  auto me = s.Call("GET", "/v1/me", "", Bearer(token));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Str("agreementAccepted"), "false");
  EXPECT_EQ(me.Str("faceVerified"), "false");

  // Everything else answers AGREEMENT_REQUIRED, and nothing happens behind it.
  ExpectError(s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(token)), 403,
              "AGREEMENT_REQUIRED");
  ExpectError(s.Call("POST", "/v1/verifications:scan",
                     R"({"qrPayload":"admissions-verify:v1:abc"})", Bearer(token)),
              403, "AGREEMENT_REQUIRED");
  ExpectError(s.Call("GET", std::string("/v1/verifications/") + kSomeUuid, "", Bearer(token)), 403,
              "AGREEMENT_REQUIRED");
  ExpectError(s.Call("POST", "/v1/admin/staff",
                     StaffJson("school-a", "EXAMINER", "cand-" + Suffix()), Bearer(token)),
              403, "AGREEMENT_REQUIRED");
  ExpectError(s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(token)), 403,
              "AGREEMENT_REQUIRED");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM identity.verifications WHERE account_id = '" +
                          c.account_id + "'"),
            0);

  // Only the current version can be accepted.
  ExpectError(s.Call("POST", "/v1/agreement:accept",
                     absl::StrCat(R"({"version":)", version + 1, "}"), Bearer(token)),
              400, "INVALID_ARGUMENT", "version");
  ExpectError(s.Call("POST", "/v1/agreement:accept", R"({"version":0})", Bearer(token)), 400,
              "INVALID_ARGUMENT", "version");
  ExpectError(s.Call("POST", "/v1/agreement:accept", "{}", Bearer(token)), 400, "INVALID_ARGUMENT",
              "version");
  ExpectError(s.Call("POST", "/v1/agreement:accept", R"({"version":"first"})", Bearer(token)), 400,
              "INVALID_ARGUMENT");
  EXPECT_EQ(Audits("AGREEMENT_ACCEPTED", c.account_id), 0);

  auto accepted = s.Call("POST", "/v1/agreement:accept",
                         absl::StrCat(R"({"version":)", version, "}"), Bearer(token));
  EXPECT_EQ(accepted.status, 204) << accepted.body;
  EXPECT_TRUE(accepted.body.empty());
  // Accepting again is harmless and recorded once.
  EXPECT_EQ(s.Call("POST", "/v1/agreement:accept", absl::StrCat(R"({"version":)", version, "}"),
                   Bearer(token))
                .status,
            204);
  EXPECT_EQ(Audits("AGREEMENT_ACCEPTED", c.account_id), 1);
  // The version is recorded with its time.
  EXPECT_EQ(SqlInt(s, absl::StrCat("SELECT count(*) FROM identity.agreement_acceptances WHERE "
                                   "account_id = '",
                                   c.account_id, "' AND version = ", version,
                                   " AND accepted_at > now() - interval '1 minute'")),
            1);

  // The same token (its claims still say "not accepted") now passes the gate: the
  // gateway asks identity.
  auto created = s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(token));
  EXPECT_EQ(created.status, 201) << created.body;
  me = s.Call("GET", "/v1/me", "", Bearer(token));
  EXPECT_EQ(me.Str("agreementAccepted"), "true");
  // A token issued after accepting carries it.
  std::string fresh = Login(s, c.phone, c.password).first;
  EXPECT_EQ(s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(fresh)).status,
            201);
}

TEST_F(IdentityGateTest, VerificationGateComesAfterTheAgreementThenRolesDecide) {
  auto [c, token] = FreshCandidate();
  std::string staff = StaffJson("school-a", "EXAMINER", "cand-" + Suffix());
  ExpectError(s.Call("POST", "/v1/admin/staff", staff, Bearer(token)), 403, "AGREEMENT_REQUIRED");
  AcceptAgreement(s, token);
  // Past the agreement, not yet verified.
  ExpectError(s.Call("POST", "/v1/admin/staff", staff, Bearer(token)), 403,
              "VERIFICATION_REQUIRED");
  ExpectError(s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(token)), 403,
              "VERIFICATION_REQUIRED");
  ExpectError(s.Call("POST", "/v1/admin/agreements", R"({"title":"t","text":"x"})", Bearer(token)),
              403, "VERIFICATION_REQUIRED");
  // Verification endpoints themselves do not require verification.
  Verify(token);
  // Verified: the gates open (the same token, through identity) and the role check
  // refuses.
  ExpectError(s.Call("POST", "/v1/admin/staff", staff, Bearer(token)), 403, "PERMISSION_DENIED");
  std::string fresh = Login(s, c.phone, c.password).first;
  ExpectError(s.Call("POST", "/v1/admin/staff", staff, Bearer(fresh)), 403, "PERMISSION_DENIED");
  auto me = s.Call("GET", "/v1/me", "", Bearer(fresh));
  EXPECT_EQ(me.Str("faceVerified"), "true");
}

TEST_F(IdentityGateTest, OperatorPublishesANewVersionThatMustBeAcceptedAgain) {
  ReadyCandidate rc = VerifiedCandidate(s);
  int old_version = CurrentAgreementVersion(s, rc.token);
  std::string op = OperatorToken();

  ExpectError(s.Call("POST", "/v1/admin/agreements", R"({"title":"","text":"body"})", Bearer(op)),
              400, "INVALID_ARGUMENT", "title");
  ExpectError(s.Call("POST", "/v1/admin/agreements", R"({"title":"T","text":""})", Bearer(op)), 400,
              "INVALID_ARGUMENT", "text");
  // A candidate never publishes.
  ExpectError(
      s.Call("POST", "/v1/admin/agreements", R"({"title":"T","text":"body"})", Bearer(rc.token)),
      403, "PERMISSION_DENIED");
  EXPECT_EQ(CurrentAgreementVersion(s, rc.token), old_version);

  std::string title = "用户协议 v" + Suffix();
  auto published =
      s.Call("POST", "/v1/admin/agreements",
             R"({"title":")" + title + R"(","text":"新的条款 / new terms"})", Bearer(op));
  ASSERT_EQ(published.status, 201) << published.body;
  int version = std::atoi(published.Str("version").c_str());
  EXPECT_EQ(version, old_version + 1);
  EXPECT_GE(SqlInt(s,
                   "SELECT count(*) FROM identity.audit_events WHERE kind = "
                   "'AGREEMENT_PUBLISHED' AND detail = 'version " +
                       std::to_string(version) + "'"),
            1);

  auto current = s.Call("GET", "/v1/agreement", "", Bearer(rc.token));
  EXPECT_EQ(current.Str("version"), std::to_string(version));
  EXPECT_EQ(current.Str("title"), title);
  EXPECT_EQ(current.Str("text"), "新的条款 / new terms");

  auto me = s.Call("GET", "/v1/me", "", Bearer(rc.token));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Str("agreementAccepted"), "false");
  EXPECT_EQ(me.Str("faceVerified"), "true");

  ExpectError(s.Call("POST", "/v1/agreement:accept",
                     absl::StrCat(R"({"version":)", old_version, "}"), Bearer(rc.token)),
              400, "INVALID_ARGUMENT", "version");
  EXPECT_EQ(s.Call("POST", "/v1/agreement:accept", absl::StrCat(R"({"version":)", version, "}"),
                   Bearer(rc.token))
                .status,
            204);
  me = s.Call("GET", "/v1/me", "", Bearer(rc.token));
  EXPECT_EQ(me.Str("agreementAccepted"), "true");
  EXPECT_EQ(Audits("AGREEMENT_ACCEPTED", rc.c.account_id), 2);
}

// A token carries the version its account had accepted when it was issued (`agr`);
// once a newer version is published the gateway must not trust it, whether the token
// was issued before the publication or after it.
TEST_F(IdentityGateTest, NewAgreementVersionGatesTokensOfTheOldOne) {
  ReadyCandidate rc = VerifiedCandidate(s);
  std::string before = Login(s, rc.c.phone, rc.c.password).first;  // agr = old version.
  auto published = s.Call("POST", "/v1/admin/agreements",
                          R"({"title":"Terms )" + Suffix() + R"(","text":"more terms"})",
                          Bearer(OperatorToken()));
  ASSERT_EQ(published.status, 201) << published.body;
  std::string after = Login(s, rc.c.phone, rc.c.password).first;  // Still the old agr.

  ExpectError(s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(before)), 403,
              "AGREEMENT_REQUIRED");
  ExpectError(s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(after)), 403,
              "AGREEMENT_REQUIRED");
  AcceptAgreement(s, after);
  EXPECT_EQ(s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(before)).status,
            201);
}

// ---- Audit

TEST_F(IdentityGateTest, AuditEventsAreAppendOnly) {
  auto [c, token] = FreshCandidate();
  AcceptAgreement(s, token);
  ASSERT_EQ(Audits("LOGIN", c.account_id), 1);
  ASSERT_EQ(Audits("AGREEMENT_ACCEPTED", c.account_id), 1);
  std::string where = " WHERE account_id = '" + c.account_id + "'";
  EXPECT_ANY_THROW(s.Sql("UPDATE identity.audit_events SET detail = 'rewritten'" + where));
  EXPECT_ANY_THROW(s.Sql("UPDATE identity.audit_events SET kind = 'NOTHING'" + where));
  EXPECT_ANY_THROW(s.Sql("DELETE FROM identity.audit_events" + where));
  {
    // TRUNCATE would empty the table without touching a row; in a transaction that is
    // rolled back, so that nothing is lost if it does go through.
    pqxx::connection conn(s.pg_uri());
    pqxx::work tx(conn);
    EXPECT_ANY_THROW(tx.exec("TRUNCATE identity.audit_events"));
  }
  EXPECT_EQ(Audits("LOGIN", c.account_id), 1);
  EXPECT_EQ(Audits("AGREEMENT_ACCEPTED", c.account_id), 1);
  EXPECT_EQ(
      SqlInt(s, "SELECT count(*) FROM identity.audit_events" + where + " AND detail = 'rewritten'"),
      0);
  // Appending still works.
  EXPECT_NO_THROW(s.Sql("INSERT INTO identity.audit_events (kind, detail) VALUES ('TEST', 'x')"));
}

// ---- Staff and roles

TEST_F(IdentityGateTest, OperatorSchoolAdminsAndExaminers) {
  std::string op = OperatorToken();
  std::string sfx = Suffix();
  std::string admin_a = "admin-a." + sfx, admin_b = "admin-b_" + sfx, examiner = "exam-" + sfx;

  auto a =
      s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "SCHOOL_ADMIN", admin_a), Bearer(op));
  ASSERT_EQ(a.status, 201) << a.body;
  auto b =
      s.Call("POST", "/v1/admin/staff", StaffJson("school-b", "SCHOOL_ADMIN", admin_b), Bearer(op));
  ASSERT_EQ(b.status, 201) << b.body;
  EXPECT_EQ(s.Sql("SELECT school_id || ':' || array_to_string(roles, ',') FROM identity.accounts "
                  "WHERE id = '" +
                  a.Str("accountId") + "'"),
            "school-a:SCHOOL_ADMIN");

  // A fresh school admin: never accepted the agreement, never verified, and not gated.
  std::string ta = Login(s, admin_a, "staff-pass-1").first;
  auto me = s.Call("GET", "/v1/me", "", Bearer(ta));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Find("roles")->list_value().values(0).string_value(), "SCHOOL_ADMIN");
  EXPECT_EQ(me.Str("agreementAccepted"), "false");
  EXPECT_EQ(me.Str("faceVerified"), "false");

  auto ex =
      s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "EXAMINER", examiner), Bearer(ta));
  ASSERT_EQ(ex.status, 201) << ex.body;
  EXPECT_EQ(s.Sql("SELECT school_id || ':' || array_to_string(roles, ',') FROM identity.accounts "
                  "WHERE id = '" +
                  ex.Str("accountId") + "'"),
            "school-a:EXAMINER");
  EXPECT_EQ(SqlInt(s,
                   "SELECT count(*) FROM identity.audit_events WHERE kind = 'STAFF_CREATED' "
                   "AND account_id = '" +
                       ex.Str("accountId") + "' AND actor_id = '" + a.Str("accountId") + "'"),
            1);

  // School A's admin reaches nothing of school B, and creates no admins.
  std::string denied = "denied-" + sfx;
  ExpectError(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-b", "EXAMINER", denied), Bearer(ta)), 403,
      "PERMISSION_DENIED");
  ExpectError(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "SCHOOL_ADMIN", denied), Bearer(ta)),
      403, "PERMISSION_DENIED");
  ExpectError(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-b", "SCHOOL_ADMIN", denied), Bearer(ta)),
      403, "PERMISSION_DENIED");
  // Nor the operator's endpoints.
  ExpectError(s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(ta)), 403, "PERMISSION_DENIED");
  ExpectError(s.Call("POST", "/v1/admin/agreements", R"({"title":"t","text":"x"})", Bearer(ta)),
              403, "PERMISSION_DENIED");

  // An examiner creates nobody, not even in their own school.
  std::string te = Login(s, examiner, "staff-pass-1").first;
  ExpectError(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "EXAMINER", denied), Bearer(te)), 403,
      "PERMISSION_DENIED");
  // School B's admin works in school B.
  std::string tb = Login(s, admin_b, "staff-pass-1").first;
  EXPECT_EQ(s.Call("POST", "/v1/admin/staff", StaffJson("school-b", "EXAMINER", "exam-b-" + sfx),
                   Bearer(tb))
                .status,
            201);
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM identity.accounts WHERE login_name = '" + denied + "'"),
            0);
}

TEST_F(IdentityGateTest, BadStaffRequests) {
  std::string op = OperatorToken();
  std::string sfx = Suffix();
  std::string login = "admin-" + sfx;
  ASSERT_EQ(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "SCHOOL_ADMIN", login), Bearer(op))
          .status,
      201);
  ExpectError(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-b", "EXAMINER", login), Bearer(op)), 409,
      "ALREADY_EXISTS", "login");
  // The dev operator's own login is taken too.
  ExpectError(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-b", "EXAMINER", "operator"), Bearer(op)),
      409, "ALREADY_EXISTS", "login");
  for (const std::string& bad :
       std::vector<std::string>{"12345678", "Admin-" + sfx, "ab", "ab c" + sfx, "管理员" + sfx,
                                std::string(33, 'a'), std::string("")}) {
    SCOPED_TRACE(bad);
    ExpectError(
        s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "EXAMINER", bad), Bearer(op)), 400,
        "INVALID_ARGUMENT", "login");
  }
  ExpectError(
      s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "OPERATOR", "op-" + sfx), Bearer(op)),
      400, "INVALID_ARGUMENT", "role");
  ExpectError(s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "CANDIDATE", "cd-" + sfx),
                     Bearer(op)),
              400, "INVALID_ARGUMENT", "role");
  ExpectError(s.Call("POST", "/v1/admin/staff", StaffJson("", "EXAMINER", "ex-" + sfx), Bearer(op)),
              400, "INVALID_ARGUMENT", "schoolId");
  ExpectError(s.Call("POST", "/v1/admin/staff",
                     StaffJson("school-a", "EXAMINER", "ex-" + sfx, "short"), Bearer(op)),
              400, "INVALID_ARGUMENT", "password");
  ExpectError(s.Call("POST", "/v1/admin/staff", "{}", Bearer(op)), 400, "INVALID_ARGUMENT");
  ExpectError(s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "EXAMINER", "ex-" + sfx)),
              401, "UNAUTHENTICATED");
  EXPECT_EQ(
      SqlInt(s, "SELECT count(*) FROM identity.accounts WHERE login_name LIKE '%" + sfx + "%'"), 1);
}

// Concurrent creations of one login: one account, and every other answer the same
// 409 naming `login` (the loser of the race used to get a bare "already exists").
//
// COMMON BUG (services/common/pg.h, PgPool::Transact; not fixed here): when the
// transaction's function returns an error status (here "this login is taken"), the
// connection goes back to the pool before the pqxx::work that still uses it is
// destroyed, and that destructor's ROLLBACK then runs on a connection another thread
// may already have taken: two threads on one libpq connection. Seen here as a request
// that hangs until the gateway's deadline (504) while a connection sits "idle in
// transaction" after BEGIN (about one run in four on two cores). This test asserts the
// correct behaviour and fails intermittently until the work is scoped to end before
// Release (as PgPool::Read does); with that change it passed 25 runs out of 25.
TEST_F(IdentityGateTest, ConcurrentCreatesOfOneLoginMakeOneAccount) {
  std::string op = OperatorToken();
  std::string login = "race-" + Suffix();
  constexpr int kThreads = 8;
  std::vector<HttpResponse> answers(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < kThreads) std::this_thread::yield();
      answers[i] =
          s.Call("POST", "/v1/admin/staff", StaffJson("school-a", "EXAMINER", login), Bearer(op));
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : answers) {
    if (r.status == 201) {
      ++created;
    } else {
      ExpectError(r, 409, "ALREADY_EXISTS", "login");
    }
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM identity.accounts WHERE login_name = '" + login + "'"),
            1);
}

TEST_F(IdentityGateTest, AVerifiedCandidateNeverReachesStaffEndpoints) {
  ReadyCandidate rc = VerifiedCandidate(s);
  std::string t = rc.token;
  ExpectError(s.Call("POST", "/v1/admin/staff",
                     StaffJson("school-a", "EXAMINER", "cand-" + Suffix()), Bearer(t)),
              403, "PERMISSION_DENIED");
  ExpectError(s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(t)), 403, "PERMISSION_DENIED");
  ExpectError(s.Call("POST", "/v1/admin/manual-reviews/" + rc.c.account_id + ":decide",
                     R"({"approve":true,"reason":"me"})", Bearer(t)),
              403, "PERMISSION_DENIED");
  ExpectError(s.Call("POST", "/v1/admin/agreements", R"({"title":"t","text":"x"})", Bearer(t)), 403,
              "PERMISSION_DENIED");
}

// ---- Internal calls

TEST_F(IdentityGateTest, InternalCallsHaveNoHttpRoute) {
  std::string op = OperatorToken();
  for (const char* path :
       {"/v1/gate-state", "/v1/gate-states", "/v1/room-verifications", "/v1/verifications:check",
        "/admissions.identity.v1.Identity/GetGateState",
        "/admissions.identity.v1.Identity/CheckRoomVerification"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(s.Call("GET", path, "", Bearer(op)).status, 404);
    auto post =
        s.Call("POST", path, R"({"accountId":")" + std::string(kSomeUuid) + "\"}", Bearer(op));
    EXPECT_TRUE(post.status == 404 || post.status == 405) << post.body;
    EXPECT_EQ(post.Find("agreementAccepted"), nullptr) << post.body;
  }
}

}  // namespace
}  // namespace admissions::testing
