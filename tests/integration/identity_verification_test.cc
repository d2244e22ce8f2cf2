// Real-person verification (R4): the QR hand-off from the PC page to the phone app,
// the face provider's signed callbacks, and manual review after repeated failures,
// through the gateway over real HTTP with the real PostgreSQL and Redis.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "grpcpp/grpcpp.h"
#include "identity/v1/identity.grpc.pb.h"
#include "integration/harness.h"

namespace admissions::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string RandomUuid() {
  std::string h = HexEncode(RandomBytes(16));
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-4", h.substr(13, 3), "-a",
                      h.substr(17, 3), "-", h.substr(20, 12));
}

class IdentityVerificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s.RedisDeleteMatching("rl:login-ip:127.0.0.1");
    s.RedisDeleteMatching("rl:sms-ip:127.0.0.1");
  }

  // A candidate who accepted the agreement, with a token.
  std::pair<Candidate, std::string> Accepted() {
    Candidate c = RegisterCandidate(s);
    std::string token = Login(s, c.phone, c.password).first;
    AcceptAgreement(s, token);
    return {c, token};
  }

  HttpResponse Get(const std::string& id, const std::string& token, const std::string& query = "") {
    return s.Call("GET", "/v1/verifications/" + id + query, "", Bearer(token));
  }
  std::string Status(const std::string& id, const std::string& token) {
    return Get(id, token).Str("status");
  }
  HttpResponse Scan(const std::string& qr, const std::string& token) {
    return s.Call("POST", "/v1/verifications:scan", R"({"qrPayload":")" + qr + "\"}",
                  Bearer(token));
  }
  HttpResponse Fail(const std::string& id) {
    return PostFaceCallback(s, SignFaceCallback(s, FaceResultJson(id, false, 0.1)));
  }
  int Failures(const std::string& account_id) {
    return SqlInt(s, "SELECT face_failures FROM identity.accounts WHERE id = '" + account_id + "'");
  }
  int OpenReviews(const std::string& account_id) {
    return SqlInt(s,
                  "SELECT count(*) FROM identity.manual_reviews WHERE decided_at IS NULL AND "
                  "account_id = '" +
                      account_id + "'");
  }
  int Audits(const std::string& kind, const std::string& account_id) {
    return SqlInt(s, "SELECT count(*) FROM identity.audit_events WHERE kind = '" + kind +
                         "' AND account_id = '" + account_id + "'");
  }
  std::string OperatorToken() { return Login(s, "operator", "operator-dev-pass").first; }

  // The open review of `account_id` as the operator lists it, or null.
  std::optional<google::protobuf::Struct> ListedReview(const HttpResponse& list,
                                                       const std::string& account_id) {
    const auto* reviews = list.Find("reviews");
    if (reviews == nullptr) return std::nullopt;
    for (const auto& v : reviews->list_value().values()) {
      const auto& f = v.struct_value().fields();
      if (f.count("accountId") && f.at("accountId").string_value() == account_id) {
        return v.struct_value();
      }
    }
    return std::nullopt;
  }

  Stack& s = Stack::Get();
};

// ---- The hand-off

TEST_F(IdentityVerificationTest, PcShowsQrPhoneScansResultArrivesOverLongPoll) {
  auto [c, pc] = Accepted();
  std::string phone = Login(s, c.phone, c.password).first;  // The app: a second session.

  absl::Time before = absl::Now();
  auto created = s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(pc));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.Str("verificationId");
  std::string qr = created.Str("qrPayload");
  EXPECT_EQ(created.Str("status"), "PENDING");
  EXPECT_EQ(qr.rfind("admissions-verify:v1:", 0), 0u) << qr;
  EXPECT_EQ(qr.find(id), std::string::npos) << "the QR token is not the verification id";
  absl::Time expires;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, created.Str("expiresAt"), &expires, &err))
      << created.body << " " << err;
  EXPECT_GT(expires, before + absl::Minutes(9));
  EXPECT_LE(expires, absl::Now() + absl::Minutes(10) + absl::Seconds(1));
  // Only a hash of the QR token is kept.
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM identity.verifications WHERE qr_token_hash = '" + qr +
                          "' OR qr_token_hash = '" + qr.substr(21) + "'"),
            0);

  auto pending = Get(id, pc);
  ASSERT_EQ(pending.status, 200) << pending.body;
  EXPECT_EQ(pending.Str("status"), "PENDING");
  EXPECT_EQ(pending.Str("purpose"), "ACCOUNT");

  auto scanned = Scan(qr, phone);
  ASSERT_EQ(scanned.status, 200) << scanned.body;
  EXPECT_EQ(scanned.Str("verificationId"), id);
  EXPECT_EQ(scanned.Str("status"), "VERIFYING");
  EXPECT_EQ(Status(id, pc), "VERIFYING");

  // The PC page long-polls; the provider's result comes while it waits.
  auto completer = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":true})");
  });
  auto start = Clock::now();
  auto polled = Get(id, pc, "?waitSeconds=5");
  double waited = SecondsSince(start);
  auto completed = completer.get();
  EXPECT_EQ(completed.status, 200) << completed.body;
  EXPECT_EQ(completed.Str("status"), "PASSED");
  ASSERT_EQ(polled.status, 200) << polled.body;
  EXPECT_EQ(polled.Str("status"), "PASSED");
  EXPECT_FALSE(polled.Str("finishedAt").empty());
  EXPECT_GE(waited, 0.4) << "the poll answered before the result existed";
  EXPECT_LT(waited, 2.5) << "the poll did not wake up on the result";

  // A finished verification answers a long poll at once.
  start = Clock::now();
  EXPECT_EQ(Get(id, pc, "?waitSeconds=5").Str("status"), "PASSED");
  EXPECT_LT(SecondsSince(start), 1.0);

  auto me = s.Call("GET", "/v1/me", "", Bearer(pc));
  EXPECT_EQ(me.Str("faceVerified"), "true");
  EXPECT_EQ(Audits("VERIFICATION_PASSED", c.account_id), 1);
  // What is kept of the result: status, score, provider reference, time; no image.
  EXPECT_EQ(s.Sql("SELECT (score IS NOT NULL AND provider_ref <> '' AND finished_at IS NOT NULL)"
                  "::text FROM identity.verifications WHERE id = '" +
                  id + "'"),
            "true");
  EXPECT_EQ(SqlInt(s,
                   "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                   "'identity' AND data_type = 'bytea'"),
            0);
}

TEST_F(IdentityVerificationTest, LongPollAnswersAtItsDeadlineWithTheCurrentStatus) {
  auto [c, token] = Accepted();
  auto [id, qr] = StartVerification(s, token);
  ASSERT_EQ(Scan(qr, token).status, 200);
  auto start = Clock::now();
  auto r = Get(id, token, "?waitSeconds=1");
  double waited = SecondsSince(start);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("status"), "VERIFYING");
  EXPECT_GE(waited, 0.9);
  EXPECT_LT(waited, 3.0);
}

// A change notification that changes nothing the poll has not seen (the echo through
// Redis of a change made before the poll began, or a duplicate from another instance)
// must not end the poll with the same status it would have answered at once.
TEST_F(IdentityVerificationTest, LongPollWaitsThroughNotificationsThatChangeNothing) {
  auto [c, token] = Accepted();
  auto [id, qr] = StartVerification(s, token);
  ASSERT_EQ(Scan(qr, token).status, 200);
  auto driver = std::async(std::launch::async, [&, id = id] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    s.RedisPublish("identity:verification-changed", id);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":false})");
  });
  auto start = Clock::now();
  auto r = Get(id, token, "?waitSeconds=5");
  double waited = SecondsSince(start);
  EXPECT_EQ(driver.get().status, 200);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("status"), "FAILED") << "after " << waited << " s";
  EXPECT_GE(waited, 0.7);
  EXPECT_LT(waited, 3.0);
}

TEST_F(IdentityVerificationTest, ReplayedExpiredAndForeignQrCodesAreRefused) {
  auto [c, pc] = Accepted();
  std::string phone = Login(s, c.phone, c.password).first;
  auto [other, other_token] = Accepted();

  // Replayed: the second scan of one code.
  {
    auto [id, qr] = StartVerification(s, pc);
    ASSERT_EQ(Scan(qr, phone).status, 200);
    ExpectError(Scan(qr, phone), 409, "QR_USED");
    EXPECT_EQ(Status(id, pc), "VERIFYING");
  }
  // Expired.
  {
    auto [id, qr] = StartVerification(s, pc);
    s.Sql(
        "UPDATE identity.verifications SET expires_at = now() - interval '1 second' WHERE id = '" +
        id + "'");
    ExpectError(Scan(qr, phone), 409, "QR_EXPIRED");
    EXPECT_EQ(Status(id, pc), "EXPIRED");
  }
  // Another account's app: refused, and the code still works for its own account.
  {
    auto [id, qr] = StartVerification(s, pc);
    ExpectError(Scan(qr, other_token), 403, "PERMISSION_DENIED");
    EXPECT_EQ(Status(id, pc), "PENDING");
    // Nor can the other account read it: it reads as missing.
    ExpectError(Get(id, other_token), 404, "NOT_FOUND");
    EXPECT_EQ(Scan(qr, phone).status, 200);
  }
  // The session that asked has logged out since.
  {
    std::string pc2 = Login(s, c.phone, c.password).first;
    auto [id, qr] = StartVerification(s, pc2);
    ASSERT_EQ(s.Call("DELETE", "/v1/sessions/current", "", Bearer(pc2)).status, 204);
    auto r = Scan(qr, phone);
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_EQ(r.ErrorCode(), "QR_EXPIRED") << r.body;
    EXPECT_EQ(Status(id, pc), "PENDING");
  }
  // Codes that were never issued.
  ExpectError(Scan("admissions-verify:v1:" + Base64UrlEncode(RandomBytes(32)), phone), 400,
              "INVALID_ARGUMENT", "qrPayload");
  ExpectError(Scan("https://example.com/", phone), 400, "INVALID_ARGUMENT", "qrPayload");
  ExpectError(Scan("", phone), 400, "INVALID_ARGUMENT", "qrPayload");
  EXPECT_EQ(Failures(c.account_id), 0);
}

TEST_F(IdentityVerificationTest, BadVerificationRequests) {
  auto [c, token] = Accepted();
  auto [id, qr] = StartVerification(s, token);
  ExpectError(Get(RandomUuid(), token), 404, "NOT_FOUND");
  ExpectError(Get("not-a-verification", token), 400, "INVALID_ARGUMENT", "verificationId");
  ExpectError(Get(id, token, "?waitSeconds=31"), 400, "INVALID_ARGUMENT", "waitSeconds");
  ExpectError(Get(id, token, "?waitSeconds=-1"), 400, "INVALID_ARGUMENT", "waitSeconds");
  ExpectError(Get(id, token, "?waitSeconds=soon"), 400, "INVALID_ARGUMENT");
  ExpectError(Get(RandomUuid(), token, "?waitSeconds=2"), 404, "NOT_FOUND");
  ExpectError(s.Call("POST", "/v1/verifications", "{}", Bearer(token)), 400, "INVALID_ARGUMENT",
              "purpose");
  ExpectError(s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM"})", Bearer(token)), 400,
              "INVALID_ARGUMENT", "roomId");
  ExpectError(
      s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT","roomId":"r1"})", Bearer(token)),
      400, "INVALID_ARGUMENT", "roomId");
  // A room verification needs a verified account first.
  ExpectError(
      s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM","roomId":"r1"})", Bearer(token)),
      403, "VERIFICATION_REQUIRED");
  ExpectError(s.Call("POST", "/v1/dev/verifications/not-an-id:complete", R"({"passed":true})"), 400,
              "INVALID_ARGUMENT", "verificationId");
}

TEST_F(IdentityVerificationTest, RoomVerificationAfterTheAccountIsVerified) {
  ReadyCandidate rc = VerifiedCandidate(s);
  auto created = s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM","roomId":"room-7"})",
                        Bearer(rc.token));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.Str("verificationId");
  ASSERT_EQ(Scan(created.Str("qrPayload"), rc.token).status, 200);
  auto done = s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":true})");
  EXPECT_EQ(done.Str("status"), "PASSED") << done.body;
  auto v = Get(id, rc.token);
  EXPECT_EQ(v.Str("purpose"), "ROOM");
  EXPECT_EQ(v.Str("roomId"), "room-7");
  EXPECT_EQ(v.Str("status"), "PASSED");
}

TEST_F(IdentityVerificationTest, MobileHandOffNeedsNoScan) {
  // On the phone the app creates the verification in its own session and hands it to
  // the provider directly (R4, "开始"): the result counts without a QR scan.
  auto [c, phone] = Accepted();
  auto [id, qr] = StartVerification(s, phone);
  EXPECT_EQ(Status(id, phone), "PENDING");
  auto r = s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("status"), "PASSED");
  EXPECT_EQ(Status(id, phone), "PASSED");
  EXPECT_EQ(s.Call("GET", "/v1/me", "", Bearer(phone)).Str("faceVerified"), "true");
  // The QR code of a finished verification is spent.
  ExpectError(Scan(qr, phone), 409, "QR_USED");
}

// ---- Internal calls (gRPC only)

TEST_F(IdentityVerificationTest, InternalRoomCheckAndGateState) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(s.identity_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = identity::v1::Identity::NewStub(channel);
  auto gates = [&](const std::string& account_id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    identity::v1::GetGateStateRequest req;
    req.set_account_id(account_id);
    identity::v1::GateState state;
    grpc::Status st = stub->GetGateState(&ctx, req, &state);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return state;
  };
  auto check = [&](const std::string& account_id, const std::string& room, int max_age,
                   const std::string& verification_id = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    identity::v1::CheckRoomVerificationRequest req;
    req.set_account_id(account_id);
    req.set_room_id(room);
    req.set_max_age_seconds(max_age);
    req.set_verification_id(verification_id);
    identity::v1::CheckRoomVerificationResponse resp;
    grpc::Status st = stub->CheckRoomVerification(&ctx, req, &resp);
    return std::make_pair(st, resp);
  };

  Candidate c = RegisterCandidate(s);
  std::string token = Login(s, c.phone, c.password).first;
  auto g = gates(c.account_id);
  EXPECT_FALSE(g.agreement_accepted());
  EXPECT_FALSE(g.face_verified());
  AcceptAgreement(s, token);
  auto [account_verification, account_qr] = StartVerification(s, token);
  ASSERT_EQ(s.Call("POST", "/v1/dev/verifications/" + account_verification + ":complete",
                   R"({"passed":true})")
                .status,
            200);
  g = gates(c.account_id);
  EXPECT_TRUE(g.agreement_accepted());
  EXPECT_TRUE(g.face_verified());
  EXPECT_FALSE(g.manual_review());
  EXPECT_GE(g.agreement_version(), 1);

  // An ACCOUNT verification is no room verification.
  auto none = check(c.account_id, "room-9", 600);
  ASSERT_TRUE(none.first.ok()) << none.first.error_message();
  EXPECT_FALSE(none.second.passed());

  auto created =
      s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM","roomId":"room-9"})", Bearer(token));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.Str("verificationId");
  // Not finished yet.
  EXPECT_FALSE(check(c.account_id, "room-9", 600).second.passed());
  ASSERT_EQ(
      s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":true})").status,
      200);
  auto ok = check(c.account_id, "room-9", 600);
  ASSERT_TRUE(ok.first.ok()) << ok.first.error_message();
  EXPECT_TRUE(ok.second.passed());
  EXPECT_GT(ok.second.verified_at().seconds(), 0);
  EXPECT_TRUE(check(c.account_id, "room-9", 600, id).second.passed());
  EXPECT_FALSE(check(c.account_id, "room-9", 600, RandomUuid()).second.passed());
  EXPECT_FALSE(check(c.account_id, "room-10", 600).second.passed());
  Candidate stranger = RegisterCandidate(s);
  EXPECT_FALSE(check(stranger.account_id, "room-9", 600).second.passed());
  // Older than asked for.
  s.Sql(
      "UPDATE identity.verifications SET finished_at = now() - interval '20 minutes' WHERE id = '" +
      id + "'");
  EXPECT_FALSE(check(c.account_id, "room-9", 600).second.passed());
  EXPECT_TRUE(check(c.account_id, "room-9", 3600).second.passed());

  EXPECT_EQ(check("not-an-account", "room-9", 600).first.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(check(c.account_id, "", 600).first.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(check(c.account_id, "room-9", 0).first.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(check(c.account_id, "room-9", 600, "nope").first.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// ---- Signed provider callbacks

TEST_F(IdentityVerificationTest, SignedCallbacks) {
  auto [c, token] = Accepted();

  // A good one.
  {
    auto [id, qr] = StartVerification(s, token);
    ASSERT_EQ(Scan(qr, token).status, 200);
    auto r = PostFaceCallback(s, SignFaceCallback(s, FaceResultJson(id, true, 0.93)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Str("result"), "OK");
    EXPECT_EQ(Status(id, token), "PASSED");
    EXPECT_EQ(s.Sql("SELECT score::text FROM identity.verifications WHERE id = '" + id + "'"),
              "0.93");
    EXPECT_EQ(s.Call("GET", "/v1/me", "", Bearer(token)).Str("faceVerified"), "true");
  }

  auto [c2, t2] = Accepted();
  auto [id, qr] = StartVerification(s, t2);
  ASSERT_EQ(Scan(qr, t2).status, 200);
  int64_t now = absl::ToUnixSeconds(absl::Now());
  std::string body = FaceResultJson(id, false);
  // Bad signatures: the body changed after signing, another key, a broken header,
  // no headers at all.
  {
    FaceCallback cb = SignFaceCallback(s, body);
    cb.body = FaceResultJson(id, true);
    ExpectError(PostFaceCallback(s, cb), 401, "UNAUTHENTICATED");
    FaceCallback foreign = SignFaceCallback(Base64Encode(RandomBytes(32)), body, now);
    ExpectError(PostFaceCallback(s, foreign), 401, "UNAUTHENTICATED");
    FaceCallback broken = SignFaceCallback(s, body);
    broken.signature = "not base64!";
    ExpectError(PostFaceCallback(s, broken), 401, "UNAUTHENTICATED");
    FaceCallback other_nonce = SignFaceCallback(s, body);
    other_nonce.nonce += "x";
    ExpectError(PostFaceCallback(s, other_nonce), 401, "UNAUTHENTICATED");
    ExpectError(s.Call("POST", "/v1/providers/face/notify", body), 401, "UNAUTHENTICATED");
  }
  // Stale and future timestamps, properly signed.
  ExpectError(PostFaceCallback(s, SignFaceCallback(s.face_simulator_key(), body, now - 3600)), 401,
              "UNAUTHENTICATED");
  ExpectError(PostFaceCallback(s, SignFaceCallback(s.face_simulator_key(), body, now + 3600)), 401,
              "UNAUTHENTICATED");
  EXPECT_EQ(Status(id, t2), "VERIFYING");
  EXPECT_EQ(Failures(c2.account_id), 0);

  // The real one, then its nonce again on another verification.
  std::string nonce = "nonce-" + HexEncode(RandomBytes(8));
  auto first = PostFaceCallback(s, SignFaceCallback(s.face_simulator_key(), body, now, nonce));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Status(id, t2), "FAILED");
  EXPECT_EQ(Get(id, t2).Str("failuresSoFar"), "1");
  EXPECT_EQ(Audits("VERIFICATION_FAILED", c2.account_id), 1);
  auto [id3, qr3] = StartVerification(s, t2);
  ExpectError(PostFaceCallback(s, SignFaceCallback(s.face_simulator_key(),
                                                   FaceResultJson(id3, true), now, nonce)),
              401, "UNAUTHENTICATED");
  // The exact same request again (a replay).
  ExpectError(PostFaceCallback(s, SignFaceCallback(s.face_simulator_key(), body, now, nonce)), 401,
              "UNAUTHENTICATED");
  EXPECT_EQ(Status(id3, t2), "PENDING");

  // An unknown verification; bodies that are not results.
  ExpectError(PostFaceCallback(s, SignFaceCallback(s, FaceResultJson(RandomUuid(), true))), 404,
              "NOT_FOUND");
  ExpectError(PostFaceCallback(s, SignFaceCallback(s, "this is not json")), 400,
              "INVALID_ARGUMENT");
  ExpectError(PostFaceCallback(s, SignFaceCallback(s, R"({"verificationId":")" + id3 + R"("})")),
              400, "INVALID_ARGUMENT");
  ExpectError(PostFaceCallback(s, SignFaceCallback(s, R"({"verificationId":")" + id3 +
                                                          R"(","result":"MAYBE"})")),
              400, "INVALID_ARGUMENT");
  EXPECT_EQ(Status(id3, t2), "PENDING");

  // The provider retries a result for a finished verification: acknowledged, nothing
  // changes.
  auto retried = PostFaceCallback(s, SignFaceCallback(s, FaceResultJson(id, true, 0.99)));
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.Str("result"), "OK");
  EXPECT_EQ(Status(id, t2), "FAILED");
  EXPECT_EQ(Failures(c2.account_id), 1);
  EXPECT_EQ(s.Call("GET", "/v1/me", "", Bearer(t2)).Str("faceVerified"), "false");
  auto again = Fail(id);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Failures(c2.account_id), 1);
  EXPECT_EQ(Audits("VERIFICATION_FAILED", c2.account_id), 1);
}

// ---- Manual review

TEST_F(IdentityVerificationTest, SixthFailureOpensAManualReview) {
  auto [c, token] = Accepted();
  for (int i = 1; i <= 6; ++i) {
    SCOPED_TRACE(i);
    auto [id, qr] = StartVerification(s, token);
    ASSERT_FALSE(id.empty());
    auto r = Fail(id);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Get(id, token).Str("failuresSoFar"), std::to_string(i));
    EXPECT_EQ(OpenReviews(c.account_id), i < 6 ? 0 : 1);
  }
  ExpectError(s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(token)), 403,
              "MANUAL_REVIEW_REQUIRED");
  auto me = s.Call("GET", "/v1/me", "", Bearer(token));
  EXPECT_EQ(me.Str("manualReview"), "true");
  EXPECT_EQ(me.Str("faceVerified"), "false");
  EXPECT_EQ(Audits("MANUAL_REVIEW_OPENED", c.account_id), 1);

  // The candidate cannot see or decide reviews (not verified: the gate answers first).
  ExpectError(s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(token)), 403,
              "VERIFICATION_REQUIRED");
  ExpectError(s.Call("POST", "/v1/admin/manual-reviews/" + c.account_id + ":decide",
                     R"({"approve":true,"reason":"it is me"})", Bearer(token)),
              403, "VERIFICATION_REQUIRED");

  std::string op = OperatorToken();
  auto list = s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(op));
  ASSERT_EQ(list.status, 200) << list.body;
  auto review = ListedReview(list, c.account_id);
  ASSERT_TRUE(review.has_value()) << list.body;
  EXPECT_EQ(review->fields().at("idNumberMasked").string_value(),
            c.id_number.substr(0, 3) + std::string(11, '*') + c.id_number.substr(14));
  EXPECT_EQ(review->fields().at("name").string_value(), "张三");
  EXPECT_EQ(review->fields().at("failures").number_value(), 6);
  EXPECT_EQ(list.body.find(c.id_number), std::string::npos);
  EXPECT_EQ(list.body.find(c.phone), std::string::npos);

  // Bad decisions change nothing.
  std::string decide = "/v1/admin/manual-reviews/" + c.account_id + ":decide";
  ExpectError(s.Call("POST", decide, R"({"approve":false})", Bearer(op)), 400, "INVALID_ARGUMENT",
              "reason");
  ExpectError(s.Call("POST", "/v1/admin/manual-reviews/nobody:decide",
                     R"({"approve":false,"reason":"x"})", Bearer(op)),
              400, "INVALID_ARGUMENT", "accountId");
  ExpectError(s.Call("POST", "/v1/admin/manual-reviews/" + RandomUuid() + ":decide",
                     R"({"approve":false,"reason":"x"})", Bearer(op)),
              404, "NOT_FOUND");
  EXPECT_EQ(OpenReviews(c.account_id), 1);

  // Rejected: the candidate may verify again.
  auto decided =
      s.Call("POST", decide, R"({"approve":false,"reason":"photo unclear"})", Bearer(op));
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(decided.Str("outcome"), "RETRY_ALLOWED");
  EXPECT_EQ(OpenReviews(c.account_id), 0);
  EXPECT_EQ(Failures(c.account_id), 0);
  EXPECT_EQ(Audits("MANUAL_REVIEW_REJECTED", c.account_id), 1);
  ExpectError(s.Call("POST", decide, R"({"approve":true,"reason":"again"})", Bearer(op)), 404,
              "NOT_FOUND");
  me = s.Call("GET", "/v1/me", "", Bearer(token));
  EXPECT_EQ(me.Str("manualReview"), "false");
  EXPECT_EQ(me.Str("faceVerified"), "false");
  EXPECT_FALSE(ListedReview(s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(op)), c.account_id)
                   .has_value());
  auto [id, qr] = StartVerification(s, token);
  EXPECT_FALSE(id.empty());
}

TEST_F(IdentityVerificationTest, FiftyConcurrentFailuresOpenOneReview) {
  auto [c, token] = Accepted();
  constexpr int kCallbacks = 50;
  std::vector<FaceCallback> callbacks;
  for (int i = 0; i < kCallbacks; ++i) {
    auto [id, qr] = StartVerification(s, token);
    ASSERT_FALSE(id.empty());
    callbacks.push_back(SignFaceCallback(s, FaceResultJson(id, false, 0.05)));
  }
  std::vector<HttpResponse> answers(kCallbacks);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallbacks; ++i) {
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < kCallbacks) std::this_thread::yield();
      answers[i] = PostFaceCallback(s, callbacks[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : answers) EXPECT_EQ(r.status, 200) << r.body;

  EXPECT_EQ(Failures(c.account_id), kCallbacks);
  EXPECT_EQ(OpenReviews(c.account_id), 1);
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM identity.manual_reviews WHERE account_id = '" +
                          c.account_id + "'"),
            1);
  EXPECT_EQ(SqlInt(s, "SELECT failures FROM identity.manual_reviews WHERE account_id = '" +
                          c.account_id + "'"),
            6);
  EXPECT_EQ(Audits("MANUAL_REVIEW_OPENED", c.account_id), 1);
  EXPECT_EQ(Audits("VERIFICATION_FAILED", c.account_id), kCallbacks);
  ExpectError(s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(token)), 403,
              "MANUAL_REVIEW_REQUIRED");

  // Approved: the account is verified.
  std::string op = OperatorToken();
  auto decided = s.Call("POST", "/v1/admin/manual-reviews/" + c.account_id + ":decide",
                        R"({"approve":true,"reason":"matched the ID photo by hand"})", Bearer(op));
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(decided.Str("outcome"), "VERIFIED");
  EXPECT_EQ(Audits("MANUAL_REVIEW_APPROVED", c.account_id), 1);
  auto me = s.Call("GET", "/v1/me", "", Bearer(token));
  EXPECT_EQ(me.Str("faceVerified"), "true");
  EXPECT_EQ(me.Str("manualReview"), "false");
  EXPECT_EQ(OpenReviews(c.account_id), 0);
  // Past both gates now (the same token: the gateway asks identity), so roles decide.
  ExpectError(s.Call("GET", "/v1/admin/manual-reviews", "", Bearer(token)), 403,
              "PERMISSION_DENIED");
}

}  // namespace
}  // namespace admissions::testing
