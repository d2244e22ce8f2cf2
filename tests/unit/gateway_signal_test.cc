// The signaling messages of the live channel (docs/api/live.md): parsing what clients send,
// with every kind of bad input, printing what the Connect stream delivers, and the per-
// connection throttle.
#include <gtest/gtest.h>

#include <string>

#include "gateway/live_protocol.h"
#include "gateway/token_bucket.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace admissions::gateway {
namespace {

using google::protobuf::Struct;
using media_signaling::v1::Delivery;
using media_signaling::v1::IceServers;
using media_signaling::v1::Joined;
using Type = LiveClientMessage::Type;

Struct Json(const std::string& text) {
  Struct out;
  auto status = google::protobuf::util::JsonStringToMessage(text, &out);
  EXPECT_TRUE(status.ok()) << text;
  return out;
}

std::string Str(const Struct& message, const std::string& name) {
  auto it = message.fields().find(name);
  return it == message.fields().end() ? "<absent>" : it->second.string_value();
}

LiveClientMessage ParseOk(const std::string& text) {
  LiveClientMessage message;
  absl::Status status = ParseLiveMessage(text, &message);
  EXPECT_TRUE(status.ok()) << text << ": " << status;
  return message;
}

// The parse error's message, "" when the text parsed.
std::string ParseError(const std::string& text) {
  LiveClientMessage message;
  absl::Status status = ParseLiveMessage(text, &message);
  if (status.ok()) return "";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST(LiveSignalProtocol, Join) {
  auto join = ParseOk(R"({"type":"join","roomId":"room-3","id":1})");
  EXPECT_EQ(join.type, Type::kJoin);
  EXPECT_EQ(join.room_id, "room-3");
  EXPECT_EQ(join.after, 0);
  ASSERT_TRUE(join.id);
  EXPECT_EQ(join.id->number_value(), 1);
  EXPECT_EQ(ParseOk(R"({"type":"join","roomId":"r","afterSeq":"42"})").after, 42);
  EXPECT_EQ(ParseOk(R"({"type":"join","roomId":"r","afterSeq":7})").after, 7);

  EXPECT_NE(ParseError(R"({"type":"join"})").find("\"roomId\" is required"), std::string::npos);
  EXPECT_NE(ParseError(R"({"type":"join","roomId":7})"), "");
  EXPECT_NE(ParseError(R"({"type":"join","roomId":"a b"})"), "");
  EXPECT_NE(ParseError(R"({"type":"join","roomId":"r","afterSeq":-1})"), "");
  EXPECT_NE(ParseError(R"({"type":"join","roomId":"r","afterSeq":"1x"})"), "");
  EXPECT_NE(ParseError(R"({"type":"join","roomId":"r","afterSeq":1.5})"), "");
  EXPECT_NE(
      ParseError(R"({"type":"join","roomId":"r","after":1})").find("\"after\" is not a field"),
      std::string::npos);
}

TEST(LiveSignalProtocol, OfferAnswerAndEndOfCandidates) {
  auto offer = ParseOk(R"({"type":"signal","id":"s1","to":"ex-1","kind":"offer","sdp":"v=0"})");
  EXPECT_EQ(offer.type, Type::kSignal);
  EXPECT_EQ(offer.signal.to(), "ex-1");
  EXPECT_EQ(offer.signal.kind(), "offer");
  EXPECT_EQ(offer.signal.sdp(), "v=0");
  EXPECT_FALSE(offer.signal.has_candidate());
  EXPECT_EQ(offer.id->string_value(), "s1");
  EXPECT_EQ(ParseOk(R"({"type":"signal","to":"a/2","kind":"answer","sdp":"v=0"})").signal.kind(),
            "answer");
  auto end = ParseOk(R"({"type":"signal","to":"a","kind":"end-of-candidates"})");
  EXPECT_EQ(end.signal.kind(), "end-of-candidates");
  EXPECT_TRUE(end.signal.sdp().empty());
}

TEST(LiveSignalProtocol, Candidate) {
  auto full = ParseOk(
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"uf"}})");
  ASSERT_TRUE(full.signal.has_candidate());
  EXPECT_EQ(full.signal.candidate().candidate(), "candidate:1 1 udp 1 10.0.0.1 5000 typ host");
  EXPECT_EQ(full.signal.candidate().sdp_mid(), "0");
  EXPECT_TRUE(full.signal.candidate().has_sdp_m_line_index());
  EXPECT_EQ(full.signal.candidate().sdp_m_line_index(), 0);
  EXPECT_EQ(full.signal.candidate().username_fragment(), "uf");
  // RTCIceCandidate.toJSON() gives null for what it does not know.
  auto nulls = ParseOk(
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMid":null,"sdpMLineIndex":1,"usernameFragment":null}})");
  EXPECT_EQ(nulls.signal.candidate().sdp_m_line_index(), 1);
  EXPECT_TRUE(nulls.signal.candidate().sdp_mid().empty());
  auto mid_only = ParseOk(
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMid":"a"}})");
  EXPECT_FALSE(mid_only.signal.candidate().has_sdp_m_line_index());
}

TEST(LiveSignalProtocol, BadSignals) {
  const std::string bad[] = {
      R"({"type":"signal","kind":"offer","sdp":"v=0"})",                   // no to
      R"({"type":"signal","to":"","kind":"offer","sdp":"v=0"})",           // empty to
      R"({"type":"signal","to":7,"kind":"offer","sdp":"v=0"})",            // mistyped to
      R"({"type":"signal","to":"a","sdp":"v=0"})",                         // no kind
      R"({"type":"signal","to":"a","kind":"pranswer","sdp":"v=0"})",       // unknown kind
      R"({"type":"signal","to":"a","kind":"OFFER","sdp":"v=0"})",          // kinds are lower case
      R"({"type":"signal","to":"a","kind":"offer"})",                      // offer without sdp
      R"({"type":"signal","to":"a","kind":"offer","sdp":""})",             // empty sdp
      R"({"type":"signal","to":"a","kind":"answer","sdp":{"type":"x"}})",  // mistyped sdp
      R"({"type":"signal","to":"a","kind":"candidate"})",                  // no candidate
      R"({"type":"signal","to":"a","kind":"candidate","sdp":"v=0","candidate":{"candidate":"c","sdpMid":"0"}})",
      R"({"type":"signal","to":"a","kind":"offer","sdp":"v=0","candidate":{"candidate":"c"}})",
      R"({"type":"signal","to":"a","kind":"end-of-candidates","sdp":"v=0"})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":"c"})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"","sdpMid":"0"}})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"sdpMid":"0"}})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c"}})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMLineIndex":-1}})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMLineIndex":0.5}})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMLineIndex":"0"}})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMid":0}})",
      R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMid":"0","foundation":"1"}})",
      R"({"type":"signal","to":"a","kind":"offer","sdp":"v=0","from":"me"})",  // from is the
                                                                               // service's
      R"({"type":"signal","to":"a","kind":"offer","sdp":"v=0","seq":"1"})",
  };
  for (const std::string& text : bad) EXPECT_NE(ParseError(text), "") << text;
  EXPECT_NE(ParseError(R"({"type":"signal","to":"a","kind":"offer","sdp":"v=0","from":"me"})")
                .find("\"from\" is not a field of \"signal\""),
            std::string::npos);
  EXPECT_NE(
      ParseError(
          R"({"type":"signal","to":"a","kind":"candidate","candidate":{"candidate":"c","sdpMid":"0","x":1}})")
          .find("\"x\" is not a field of \"candidate\""),
      std::string::npos);
  // Whatever else was wrong, the id is kept for the error's ref.
  LiveClientMessage message;
  EXPECT_FALSE(
      ParseLiveMessage(R"({"type":"signal","id":"k9","to":"a","kind":"x"})", &message).ok());
  ASSERT_TRUE(message.id);
  EXPECT_EQ(message.id->string_value(), "k9");
  EXPECT_EQ(message.type, Type::kSignal);
}

TEST(LiveSignalProtocol, LeaveScreenShareIceServersAndMalformed) {
  EXPECT_EQ(ParseOk(R"({"type":"leave","id":3})").type, Type::kLeave);
  EXPECT_EQ(ParseOk(R"({"type":"ice-servers"})").type, Type::kIceServers);
  auto on = ParseOk(R"({"type":"screen-share","on":true})");
  EXPECT_EQ(on.type, Type::kScreenShare);
  EXPECT_TRUE(on.on);
  EXPECT_FALSE(ParseOk(R"({"type":"screen-share","on":false})").on);

  EXPECT_NE(ParseError(R"({"type":"leave","roomId":"r"})"), "");
  EXPECT_NE(ParseError(R"({"type":"ice-servers","force":true})"), "");
  EXPECT_NE(ParseError(R"({"type":"screen-share"})"), "");
  EXPECT_NE(ParseError(R"({"type":"screen-share","on":"true"})"), "");
  EXPECT_NE(ParseError(R"({"type":"screen-share","on":1})"), "");
  EXPECT_NE(ParseError(R"({"type":"signal","to":"a","kind":"offer","sdp":"v=0")"), "");
  EXPECT_NE(ParseError(R"(["signal"])"), "");
  EXPECT_NE(ParseError(R"({"type":["signal"]})"), "");
  EXPECT_NE(ParseError(""), "");
  EXPECT_EQ(ParseOk(R"({"type":"Join","roomId":"r"})").type, Type::kUnknown);
}

TEST(LiveSignalProtocol, DeliveriesAsTheClientGetsThem) {
  Delivery delivery;
  delivery.set_seq(12);
  auto* signal = delivery.mutable_signal();
  signal->set_from("ex-1");
  signal->set_to("acc-1");
  signal->set_kind("candidate");
  signal->mutable_candidate()->set_candidate("candidate:\"quoted\" \\ \u00e9");
  signal->mutable_candidate()->set_sdp_mid("0");
  signal->mutable_candidate()->set_sdp_m_line_index(0);
  auto text = LiveDeliveryMessage(delivery);
  ASSERT_TRUE(text.ok()) << text.status();
  Struct message = Json(*text);
  EXPECT_EQ(Str(message, "type"), "signal");
  EXPECT_EQ(Str(message, "seq"), "12");
  EXPECT_EQ(Str(message, "from"), "ex-1");
  EXPECT_EQ(Str(message, "to"), "acc-1");
  EXPECT_EQ(Str(message, "kind"), "candidate");
  EXPECT_EQ(Str(message, "sdp"), "");
  const Struct& candidate = message.fields().at("candidate").struct_value();
  EXPECT_EQ(Str(candidate, "candidate"), "candidate:\"quoted\" \\ \u00e9");
  EXPECT_EQ(Str(candidate, "sdpMid"), "0");
  EXPECT_EQ(candidate.fields().at("sdpMLineIndex").number_value(), 0);

  delivery.Clear();
  delivery.set_seq(13);
  auto* peer = delivery.mutable_peer_joined();
  peer->set_peer_id("acc-1/2");
  peer->set_role(media_signaling::v1::SECONDARY);
  peer->set_send_video(true);
  message = Json(*LiveDeliveryMessage(delivery));
  EXPECT_EQ(Str(message, "type"), "peer-joined");
  EXPECT_EQ(Str(message, "seq"), "13");
  const Struct& joined_peer = message.fields().at("peer").struct_value();
  EXPECT_EQ(Str(joined_peer, "peerId"), "acc-1/2");
  EXPECT_EQ(Str(joined_peer, "role"), "SECONDARY");
  EXPECT_FALSE(joined_peer.fields().at("sendAudio").bool_value());
  EXPECT_TRUE(joined_peer.fields().at("sendVideo").bool_value());
  EXPECT_FALSE(joined_peer.fields().at("connected").bool_value());

  delivery.mutable_peer_updated()->set_peer_id("ex-1");
  delivery.mutable_peer_updated()->set_screen_sharing(true);
  message = Json(*LiveDeliveryMessage(delivery));
  EXPECT_EQ(Str(message, "type"), "peer-updated");
  EXPECT_TRUE(message.fields().at("peer").struct_value().fields().at("screenSharing").bool_value());

  delivery.mutable_peer_left()->set_peer_id("ex-1");
  delivery.mutable_peer_left()->set_reason("TIMEOUT");
  message = Json(*LiveDeliveryMessage(delivery));
  EXPECT_EQ(Str(message, "type"), "peer-left");
  EXPECT_EQ(Str(message, "peerId"), "ex-1");
  EXPECT_EQ(Str(message, "reason"), "TIMEOUT");

  delivery.set_seq(20);
  delivery.mutable_session_ended()->set_reason("FINISHED");
  message = Json(*LiveDeliveryMessage(delivery));
  EXPECT_EQ(Str(message, "type"), "session-ended");
  EXPECT_EQ(Str(message, "seq"), "20");
  EXPECT_EQ(Str(message, "reason"), "FINISHED");

  delivery.Clear();
  delivery.mutable_replaced();
  message = Json(*LiveDeliveryMessage(delivery));
  EXPECT_EQ(Str(message, "type"), "replaced");
  EXPECT_EQ(message.fields().count("seq"), 0);

  delivery.Clear();
  EXPECT_FALSE(LiveDeliveryMessage(delivery).ok());
  delivery.mutable_joined();
  EXPECT_FALSE(LiveDeliveryMessage(delivery).ok());
}

TEST(LiveSignalProtocol, JoinedIceServersAndAnswers) {
  Joined joined;
  joined.set_room_id("room-3");
  joined.set_interview_id("iv-9");
  joined.mutable_self()->set_peer_id("acc-1");
  joined.mutable_self()->set_role(media_signaling::v1::CANDIDATE);
  joined.add_peers()->set_peer_id("ex-1");
  joined.mutable_ice()->add_ice_servers()->add_urls("stun:stun.example.org:3478");
  joined.mutable_ice()->mutable_expires_at()->set_seconds(1700000000);
  joined.set_last_seq(5);
  joined.set_grace_seconds(15);
  joined.set_epoch(3);
  google::protobuf::Value ref;
  ref.set_string_value("j1");
  auto text = LiveJoinedMessage(joined, ref);
  ASSERT_TRUE(text.ok());
  Struct message = Json(*text);
  EXPECT_EQ(Str(message, "type"), "joined");
  EXPECT_EQ(Str(message, "ref"), "j1");
  EXPECT_EQ(Str(message, "roomId"), "room-3");
  EXPECT_EQ(Str(message, "interviewId"), "iv-9");
  EXPECT_EQ(Str(message, "lastSeq"), "5");
  EXPECT_EQ(Str(message, "epoch"), "3");
  EXPECT_EQ(message.fields().at("graceSeconds").number_value(), 15);
  EXPECT_FALSE(message.fields().at("gap").bool_value());
  EXPECT_EQ(Str(message.fields().at("self").struct_value(), "role"), "CANDIDATE");
  EXPECT_EQ(message.fields().at("peers").list_value().values_size(), 1);
  const Struct& ice = message.fields().at("ice").struct_value();
  EXPECT_EQ(Str(ice, "expiresAt"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(ice.fields().at("iceServers").list_value().values_size(), 1);

  IceServers servers = joined.ice();
  message = Json(*LiveIceServersMessage(servers, std::nullopt));
  EXPECT_EQ(Str(message, "type"), "ice-servers");
  EXPECT_EQ(message.fields().count("ref"), 0);
  EXPECT_EQ(Str(message, "expiresAt"), "2023-11-14T22:13:20Z");
  const Struct& server = message.fields().at("iceServers").list_value().values(0).struct_value();
  EXPECT_EQ(server.fields().at("urls").list_value().values(0).string_value(),
            "stun:stun.example.org:3478");
  EXPECT_EQ(Str(server, "username"), "");

  message = Json(LiveScreenShareMessage(true, ref));
  EXPECT_EQ(Str(message, "type"), "screen-share");
  EXPECT_TRUE(message.fields().at("on").bool_value());
  EXPECT_EQ(Str(message, "ref"), "j1");
  message = Json(LiveLeftMessage(ref));
  EXPECT_EQ(Str(message, "type"), "left");
  message = Json(LiveSessionEndedMessage("UNAVAILABLE"));
  EXPECT_EQ(Str(message, "type"), "session-ended");
  EXPECT_EQ(Str(message, "reason"), "UNAVAILABLE");
  EXPECT_EQ(message.fields().count("seq"), 0);

  api::v1::ErrorInfo info;
  info.set_code("INVALID_ARGUMENT");
  info.set_message("sdp is not an offer");
  (*info.mutable_details())["field"] = "sdp";
  message = Json(LiveErrorMessage(info, "", ref));
  EXPECT_EQ(Str(message, "code"), "INVALID_ARGUMENT");
  EXPECT_EQ(Str(message, "ref"), "j1");
  EXPECT_EQ(message.fields().count("roomId"), 0);
  EXPECT_EQ(Str(message.fields().at("details").struct_value(), "field"), "sdp");
  info.clear_details();
  message = Json(LiveErrorMessage(info, "room-3", std::nullopt));
  EXPECT_EQ(message.fields().count("details"), 0);
  EXPECT_EQ(Str(message, "roomId"), "room-3");
}

TEST(TokenBucket, BurstThenRate) {
  TokenBucket bucket(/*rate_per_second=*/10, /*burst=*/5);
  auto t = TokenBucket::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.Take(t)) << i;
  EXPECT_FALSE(bucket.Take(t));
  t += std::chrono::milliseconds(100);  // One token back.
  EXPECT_TRUE(bucket.Take(t));
  EXPECT_FALSE(bucket.Take(t));
  t += std::chrono::seconds(10);  // Never more than the burst.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.Take(t));
  EXPECT_FALSE(bucket.Take(t));
  // A clock that steps back changes nothing.
  EXPECT_FALSE(bucket.Take(t - std::chrono::seconds(5)));
}

}  // namespace
}  // namespace admissions::gateway
