// The second device end to end (R18, issue 8): the pairing QR of the first device, the phone
// pairing with it and its refusals (every one through the gateway), the phone joining the
// interview video-only, and its loss told to the examiners and recorded once. Also the
// relay between two gateways.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "integration/harness.h"
#include "integration/live_client.h"
#include "integration/room_world.h"

namespace admissions::testing {
namespace {

using google::protobuf::Struct;

RoomWorldOptions DualCamera(int candidates = 1) {
  RoomWorldOptions o;
  o.candidates = candidates;
  o.dual_camera = true;
  return o;
}

class PairingHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();
  void SetUp() override { s.RedisDeleteMatching("rl:*"); }

  HttpResponse CreateCode(const RoomWorld& w, const std::string& token) {
    return s.Call("POST", "/v1/rooms/" + w.room + "/second-device", "{}", Bearer(token));
  }
  HttpResponse Pair(const std::string& qr, const std::string& token) {
    return s.Call("POST", "/v1/devices:pair", R"({"qrPayload":")" + qr + "\"}", Bearer(token));
  }
  // The phone app: the same candidate, logged in again (a login session of its own).
  std::string PhoneToken(const ReadyCandidate& c) {
    return Login(s, c.c.phone, c.c.password).first;
  }
  std::string SecondDevice(const RoomWorld& w, const std::string& account) {
    return SecondDeviceState(s, w, account);
  }

  std::unique_ptr<LiveClient> Open(const std::string& token, int port = 0) {
    auto client = std::make_unique<LiveClient>();
    EXPECT_TRUE(client->Connect(port == 0 ? s.gateway_port() : port, token));
    return client;
  }
  Struct Join(LiveClient& client, const RoomWorld& w) {
    client.Send(R"({"type":"join","roomId":")" + w.room + R"(","id":"j"})");
    auto joined = client.NextOfType("joined", absl::Seconds(10));
    EXPECT_TRUE(joined.has_value()) << "no joined";
    return joined.value_or(Struct());
  }
  static const Struct& Field(const Struct& s, const std::string& name) {
    static const Struct kEmpty;
    auto it = s.fields().find(name);
    return it == s.fields().end() ? kEmpty : it->second.struct_value();
  }
};

TEST_F(PairingHttpTest, ThePhonePairsOnceAfterTheWebVerifiedAndRefusalsLeaveTheCodeUsable) {
  RoomWorld w = MakeRoomWorld(s, DualCamera(2));
  const auto& c = w.candidates[0];
  const auto& other = w.candidates[1];

  auto code = CreateCode(w, c.token);
  ASSERT_EQ(code.status, 200) << code.body;
  const std::string qr = code.Str("qrPayload");
  ASSERT_EQ(qr.rfind("admissions-pair:v1:", 0), 0u) << qr;
  EXPECT_FALSE(code.Str("expiresAt").empty());
  std::string phone = PhoneToken(c);

  // R18: before the web page has verified and entered, the phone is told so; the code stays.
  ExpectError(Pair(qr, phone), 409, "VERIFY_ON_WEB_FIRST");
  EnterRoom(s, w, c);
  // Another candidate scanning it is refused, and does not use it up.
  ExpectError(Pair(qr, other.token), 403, "PERMISSION_DENIED");
  // The first device's own session is not a second device.
  ExpectError(Pair(qr, c.token), 400, "INVALID_ARGUMENT", "qrPayload");
  EXPECT_EQ(SecondDevice(w, c.c.account_id), "NONE");

  auto paired = Pair(qr, phone);
  ASSERT_EQ(paired.status, 200) << paired.body;
  EXPECT_EQ(paired.Str("roomId"), w.room);
  EXPECT_EQ(paired.Str("role"), "SECONDARY");
  EXPECT_EQ(SecondDevice(w, c.c.account_id), "PAIRED");
  // Single use: a replay, even by the same phone, is refused.
  ExpectError(Pair(qr, phone), 409, "PAIRING_CODE_USED");
  ExpectError(Pair(qr, PhoneToken(c)), 409, "PAIRING_CODE_USED");

  // Short-lived: a code past its expiry is refused.
  auto late = CreateCode(w, c.token);
  ASSERT_EQ(late.status, 200) << late.body;
  s.Sql(
      "UPDATE media.pairing_codes SET expires_at = now() - interval '1 second' "
      "WHERE used_at IS NULL");
  ExpectError(Pair(late.Str("qrPayload"), phone), 409, "PAIRING_CODE_EXPIRED");

  // Bad input.
  ExpectError(Pair("", phone), 400, "INVALID_ARGUMENT", "qrPayload");
  ExpectError(Pair("admissions-pair:v1:not-a-code", phone), 400, "INVALID_ARGUMENT", "qrPayload");
  ExpectError(Pair("admissions-pair:v1:" + std::string(43, 'A'), phone), 404,
              "PAIRING_CODE_UNKNOWN");
  ExpectError(s.Call("POST", "/v1/devices:pair", "{not json", Bearer(phone)), 400,
              "INVALID_ARGUMENT");
  ExpectError(s.Call("POST", "/v1/devices:pair", R"({"qrPayload":")" + qr + "\"}"), 401,
              "UNAUTHENTICATED");
}

TEST_F(PairingHttpTest, OnlyDualCameraExamsAndAssignedCandidatesGetACode) {
  RoomWorld single = MakeRoomWorld(s);  // SINGLE_CAMERA.
  ExpectError(CreateCode(single, single.candidates[0].token), 409, "NOT_DUAL_CAMERA");
  RoomWorld dual = MakeRoomWorld(s, DualCamera());
  auto r = CreateCode(dual, single.candidates[0].token);  // Not assigned to this room.
  EXPECT_EQ(r.status, 404) << r.body;
  r = CreateCode(dual, dual.examiner_tokens[0]);  // Not a candidate.
  EXPECT_EQ(r.status, 403) << r.body;
  r = s.Call("POST", "/v1/rooms/not-a-room/second-device", "{}", Bearer(dual.candidates[0].token));
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500) << r.body;
}

TEST_F(PairingHttpTest, ThePhoneJoinsVideoOnlyAndItsLossIsToldAndRecordedOnce) {
  RoomWorld w = MakeRoomWorld(s, DualCamera());
  const auto& c = w.candidates[0];
  EnterRoom(s, w, c);
  std::string phone = PhoneToken(c);
  auto code = CreateCode(w, c.token);
  ASSERT_EQ(code.status, 200) << code.body;
  ASSERT_EQ(Pair(code.Str("qrPayload"), phone).status, 200);
  StartInterview(s, w, c);

  // The examiner on one gateway, the candidate's devices on another: the relay crosses
  // gateways through the service and Redis.
  int other_gateway = s.StartGateway();
  auto examiner = Open(w.examiner_tokens[0]);
  Join(*examiner, w);
  auto web = Open(c.token, other_gateway);
  Struct web_joined = Join(*web, w);
  EXPECT_EQ(Str(Field(web_joined, "self"), "role"), "CANDIDATE");
  auto device = Open(phone, other_gateway);
  Struct device_joined = Join(*device, w);
  const Struct& self = Field(device_joined, "self");
  EXPECT_EQ(Str(self, "role"), "SECONDARY");
  EXPECT_EQ(Str(self, "peerId"), c.c.account_id + "/2");
  EXPECT_EQ(Str(self, "sendAudio"), "false");  // R18: the second device sends no audio.
  EXPECT_EQ(Str(self, "sendVideo"), "true");

  // The examiner learns of the phone and can signal it across the gateways.
  auto joined = examiner->NextOfType("peer-joined", absl::Seconds(10));
  while (joined && Str(Field(*joined, "peer"), "peerId") != c.c.account_id + "/2") {
    joined = examiner->NextOfType("peer-joined", absl::Seconds(10));
  }
  ASSERT_TRUE(joined.has_value()) << "the examiner was not told of the phone";
  examiner->Send(R"({"type":"signal","to":")" + c.c.account_id +
                 R"(/2","kind":"offer","sdp":"v=0 phone-offer"})");
  auto offer = device->NextOfType("signal", absl::Seconds(10));
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(Str(*offer, "from"), w.examiner_ids[0]);
  EXPECT_EQ(Str(*offer, "sdp"), "v=0 phone-offer");

  // The phone's connection drops and does not come back: after the grace period (4 s in
  // the test stack) the examiners are told and the waiting room records it, once.
  absl::Time cut = absl::Now();
  device->Cut();
  std::optional<Struct> left;
  for (;;) {
    left = examiner->NextOfType("peer-left", absl::Seconds(20));
    if (!left || Str(*left, "peerId") == c.c.account_id + "/2") break;
  }
  ASSERT_TRUE(left.has_value()) << "the examiner was not told the phone left";
  EXPECT_EQ(Str(*left, "reason"), "TIMEOUT");
  EXPECT_GE(absl::Now() - cut, absl::Seconds(3));
  ASSERT_TRUE(PollUntil(10, [&] { return SecondDevice(w, c.c.account_id) == "LOST"; }));
  auto events = s.Call(
      "GET", "/v1/examiner/rooms/" + w.room + "/candidates/" + c.c.account_id + "/proctor-events",
      "", Bearer(w.examiner_tokens[0]));
  ASSERT_EQ(events.status, 200) << events.body;
  size_t n = 0;
  for (size_t at = 0; (at = events.body.find("SECOND_DEVICE_LOST", at)) != std::string::npos;
       ++at) {
    ++n;
  }
  EXPECT_EQ(n, 1u) << events.body;
  // The first device is untouched by its phone's loss.
  web->Send(R"({"type":"ping","id":"still-here"})");
  EXPECT_TRUE(web->NextOfType("pong", absl::Seconds(5)).has_value());
  s.StopExtraGateways();
}

}  // namespace
}  // namespace admissions::testing
