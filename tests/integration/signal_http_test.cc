// The interview's signaling end to end: GET /v1/live on the real gateway in front of the
// real media-signaling, waiting-room and identity services, PostgreSQL and Redis. Examiner
// and candidate join the interview and negotiate in order; refusals, the throttle, a
// replacing connection, a client resuming after a cut and a service restart the clients
// never see.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "integration/harness.h"
#include "integration/live_client.h"
#include "integration/room_world.h"

namespace admissions::testing {
namespace {

using google::protobuf::Struct;

std::string SignalJson(const std::string& to, const std::string& kind, const std::string& body,
                       const std::string& id = "") {
  std::string out = absl::StrCat(R"({"type":"signal","to":")", to, R"(","kind":")", kind, R"(")");
  if (kind == "candidate") {
    absl::StrAppend(
        &out, R"(,"candidate":{"candidate":"candidate:)", body,
        R"( 1 udp 2122260223 10.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0})");
  } else if (kind == "offer" || kind == "answer") {
    absl::StrAppend(&out, R"(,"sdp":"v=0\r\no=- )", body, R"( 2 IN IP4 127.0.0.1\r\n")");
  }
  if (!id.empty()) absl::StrAppend(&out, R"(,"id":")", id, R"(")");
  return out + "}";
}

// The `body` a SignalJson carried.
std::string BodyOf(const Struct& signal) {
  if (Str(signal, "kind") == "candidate") {
    std::string line = Str(signal.fields().at("candidate").struct_value(), "candidate");
    return line.substr(10, line.find(' ') - 10);
  }
  std::string sdp = Str(signal, "sdp");
  size_t start = sdp.find("o=- ");
  return start == std::string::npos ? ""
                                    : sdp.substr(start + 4, sdp.find(' ', start + 4) - start - 4);
}

std::string PeerIdOf(const Struct& message, const std::string& field) {
  auto it = message.fields().find(field);
  return it == message.fields().end() ? "" : Str(it->second.struct_value(), "peerId");
}

// A connected, authenticated client.
std::unique_ptr<LiveClient> Open(Stack& s, const std::string& token) {
  auto client = std::make_unique<LiveClient>();
  EXPECT_TRUE(client->Connect(s.gateway_port(), token));
  return client;
}

// Sends `join` (id "j") and returns the `joined` answer; a test failure otherwise.
Struct Join(LiveClient& client, const std::string& room, int64_t after_seq = 0) {
  client.Send(absl::StrCat(R"({"type":"join","roomId":")", room, R"(","afterSeq":")", after_seq,
                           R"(","id":"j"})"));
  auto answer = client.Next(absl::Seconds(10));
  EXPECT_TRUE(answer && Str(*answer, "type") == "joined")
      << (answer ? answer->DebugString() : "no answer");
  if (answer) {
    EXPECT_EQ(Str(*answer, "ref"), "j");
  }
  return answer.value_or(Struct());
}

// The next message that is an answer to the client's `id` (`ref`), others kept in skipped().
Struct AnswerTo(LiveClient& client, const std::string& id) {
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    auto m = client.Next(until - absl::Now());
    if (!m) break;
    if (Str(*m, "ref") == id) return *m;
  }
  ADD_FAILURE() << "no answer to " << id;
  return Struct();
}

// Sends a ping and reads up to its pong: everything before it is returned.
std::vector<Struct> UntilPong(LiveClient& client, const std::string& id = "barrier") {
  client.Send(absl::StrCat(R"({"type":"ping","id":")", id, R"("})"));
  std::vector<Struct> before;
  while (auto m = client.Next(absl::Seconds(10))) {
    if (Str(*m, "type") == "pong") return before;
    before.push_back(*std::move(m));
  }
  ADD_FAILURE() << "no pong";
  return before;
}

// One interview in progress: a room world, its first candidate entered and invited, and the
// examiner's and the candidate's live connections joined to the session.
struct Interview {
  RoomWorld w;
  std::string interview_id;
  std::string candidate_peer, examiner_peer;
  std::unique_ptr<LiveClient> candidate, examiner;
  Struct candidate_joined, examiner_joined;
};

Interview StartJoined(Stack& s, const RoomWorldOptions& options = {}) {
  Interview iv;
  iv.w = MakeRoomWorld(s, options);
  EnterRoom(s, iv.w, iv.w.candidates[0]);
  iv.interview_id = StartInterview(s, iv.w, iv.w.candidates[0]);
  iv.candidate_peer = iv.w.candidates[0].c.account_id;
  iv.examiner_peer = iv.w.examiner_ids[0];
  iv.examiner = Open(s, iv.w.examiner_tokens[0]);
  iv.examiner_joined = Join(*iv.examiner, iv.w.room);
  iv.candidate = Open(s, iv.w.candidates[0].token);
  iv.candidate_joined = Join(*iv.candidate, iv.w.room);
  return iv;
}

class SignalHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();
  // Every test registers candidates: the per-IP SMS limit must not carry over.
  void SetUp() override { s.RedisDeleteMatching("rl:*"); }
};

TEST_F(SignalHttpTest, ExaminerAndCandidateNegotiateInOrder) {
  Interview iv = StartJoined(s);
  EXPECT_EQ(Str(iv.candidate_joined, "interviewId"), iv.interview_id);
  EXPECT_EQ(Str(iv.candidate_joined, "roomId"), iv.w.room);
  EXPECT_EQ(PeerIdOf(iv.candidate_joined, "self"), iv.candidate_peer);
  EXPECT_EQ(PeerIdOf(iv.examiner_joined, "self"), iv.examiner_peer);
  EXPECT_FALSE(Str(iv.candidate_joined, "epoch").empty());
  ASSERT_TRUE(iv.candidate_joined.fields().count("ice"));
  // The examiner was there first: the candidate sees them among the peers.
  const auto& peers = iv.candidate_joined.fields().at("peers").list_value();
  ASSERT_EQ(peers.values_size(), 1);
  EXPECT_EQ(Str(peers.values(0).struct_value(), "peerId"), iv.examiner_peer);
  EXPECT_EQ(Str(peers.values(0).struct_value(), "role"), "EXAMINER");
  auto joined = iv.examiner->NextOfType("peer-joined");
  ASSERT_TRUE(joined);
  EXPECT_EQ(PeerIdOf(*joined, "peer"), iv.candidate_peer);

  constexpr int kCandidates = 30;
  iv.examiner->Send(SignalJson(iv.candidate_peer, "offer", "offer1"));
  for (int i = 0; i < kCandidates; ++i) {
    iv.examiner->Send(SignalJson(iv.candidate_peer, "candidate", absl::StrCat("e", i)));
  }
  iv.examiner->Send(SignalJson(iv.candidate_peer, "end-of-candidates", ""));
  std::vector<std::string> got;
  int64_t last_seq = 0;
  while (got.size() < kCandidates + 2) {
    auto m = iv.candidate->NextOfType("signal", absl::Seconds(10));
    ASSERT_TRUE(m) << got.size();
    EXPECT_EQ(Str(*m, "from"), iv.examiner_peer);
    EXPECT_EQ(Str(*m, "to"), iv.candidate_peer);
    int64_t seq = std::stoll(Str(*m, "seq"));
    EXPECT_GT(seq, last_seq);
    last_seq = seq;
    got.push_back(Str(*m, "kind") == "end-of-candidates" ? "end" : BodyOf(*m));
  }
  EXPECT_EQ(got.front(), "offer1");
  for (int i = 0; i < kCandidates; ++i) EXPECT_EQ(got[i + 1], absl::StrCat("e", i));
  EXPECT_EQ(got.back(), "end");

  iv.candidate->Send(SignalJson(iv.examiner_peer, "answer", "answer1"));
  for (int i = 0; i < 5; ++i) {
    iv.candidate->Send(SignalJson(iv.examiner_peer, "candidate", absl::StrCat("k", i)));
  }
  auto answer = iv.examiner->NextOfType("signal");
  ASSERT_TRUE(answer);
  EXPECT_EQ(Str(*answer, "kind"), "answer");
  EXPECT_EQ(BodyOf(*answer), "answer1");
  for (int i = 0; i < 5; ++i) {
    auto m = iv.examiner->NextOfType("signal");
    ASSERT_TRUE(m);
    EXPECT_EQ(BodyOf(*m), absl::StrCat("k", i));
  }
  for (const Struct& m : iv.candidate->skipped()) {
    EXPECT_NE(Str(m, "type"), "error") << m.DebugString();
  }

  iv.candidate->Send(R"({"type":"ice-servers","id":"ice"})");
  Struct ice = AnswerTo(*iv.candidate, "ice");
  EXPECT_EQ(Str(ice, "type"), "ice-servers");
  EXPECT_GE(ice.fields().at("iceServers").list_value().values_size(), 1);
  EXPECT_FALSE(Str(ice, "expiresAt").empty());
}

TEST_F(SignalHttpTest, RefusalsAndBadInputKeepTheConnection) {
  RoomWorldOptions options;
  options.candidates = 2;
  Interview iv = StartJoined(s, options);
  // The second candidate is in the room but not in the interview.
  const std::string outsider = iv.w.candidates[1].c.account_id;
  iv.examiner->Send(SignalJson(outsider, "offer", "o", "s1"));
  Struct error = AnswerTo(*iv.examiner, "s1");
  EXPECT_EQ(Str(error, "type"), "error");
  EXPECT_EQ(Str(error, "code"), "UNKNOWN_PEER");
  iv.examiner->Send(SignalJson("nobody-at-all", "candidate", "x", "s2"));
  EXPECT_EQ(Str(AnswerTo(*iv.examiner, "s2"), "code"), "UNKNOWN_PEER");

  iv.examiner->Send("{\"type\":\"signal\",");
  auto bad = iv.examiner->NextOfType("error");
  ASSERT_TRUE(bad);
  EXPECT_EQ(Str(*bad, "code"), "INVALID_ARGUMENT");
  iv.examiner->Send(absl::StrCat(R"({"type":"signal","id":"s3","to":")", iv.candidate_peer,
                                 R"(","kind":"offer"})"));
  EXPECT_EQ(Str(AnswerTo(*iv.examiner, "s3"), "code"), "INVALID_ARGUMENT");
  iv.examiner->Send(absl::StrCat(R"({"type":"signal","id":"s4","to":")", iv.candidate_peer,
                                 R"(","kind":"pranswer","sdp":"v=0"})"));
  EXPECT_EQ(Str(AnswerTo(*iv.examiner, "s4"), "code"), "INVALID_ARGUMENT");
  iv.examiner->Send(R"({"type":"join","roomId":")" + iv.w.room + R"(","id":"j2"})");
  EXPECT_EQ(Str(AnswerTo(*iv.examiner, "j2"), "code"), "ALREADY_JOINED");

  // The connection is still in the session.
  iv.examiner->Send(SignalJson(iv.candidate_peer, "offer", "still"));
  auto offer = iv.candidate->NextOfType("signal");
  ASSERT_TRUE(offer);
  EXPECT_EQ(BodyOf(*offer), "still");

  // The outsider may not join; a client that has not joined may not signal.
  auto other = Open(s, iv.w.candidates[1].token);
  other->Send(SignalJson(iv.examiner_peer, "offer", "o", "s5"));
  EXPECT_EQ(Str(AnswerTo(*other, "s5"), "code"), "NOT_JOINED");
  other->Send(R"({"type":"join","roomId":")" + iv.w.room + R"(","id":"j3"})");
  Struct refused = AnswerTo(*other, "j3");
  EXPECT_EQ(Str(refused, "type"), "error");
  EXPECT_EQ(Str(refused, "roomId"), iv.w.room);
  EXPECT_FALSE(Str(refused, "code").empty());
}

TEST_F(SignalHttpTest, OneMegabyteMessageClosesOnlyItsConnection) {
  Interview iv = StartJoined(s);
  iv.candidate->Send(SignalJson(iv.examiner_peer, "offer", std::string(1 << 20, 'x')));
  iv.candidate->DrainUntilClosed(absl::Seconds(10));
  EXPECT_TRUE(iv.candidate->closed());
  EXPECT_EQ(iv.candidate->close_code(), 1009);
  // The examiner's connection is untouched, and the candidate can come back.
  UntilPong(*iv.examiner);
  auto back = Open(s, iv.w.candidates[0].token);
  Join(*back, iv.w.room);
  iv.examiner->Send(SignalJson(iv.candidate_peer, "offer", "again"));
  auto offer = back->NextOfType("signal");
  ASSERT_TRUE(offer);
  EXPECT_EQ(BodyOf(*offer), "again");
}

TEST_F(SignalHttpTest, AFloodIsThrottledAndOtherSessionsFlow) {
  Interview flood = StartJoined(s);
  Interview calm = StartJoined(s);
  constexpr int kSent = 1000;
  std::thread flooder([&] {
    auto start = absl::Now();
    for (int i = 0; i < kSent; ++i) {
      flood.candidate->Send(
          SignalJson(flood.examiner_peer, "candidate", absl::StrCat("f", i), absl::StrCat("f", i)));
      absl::SleepFor(start + absl::Milliseconds(i) - absl::Now());
    }
  });
  // Meanwhile the other interview's messages arrive promptly.
  for (int i = 0; i < 10; ++i) {
    auto sent = absl::Now();
    calm.examiner->Send(SignalJson(calm.candidate_peer, "candidate", absl::StrCat("c", i)));
    auto m = calm.candidate->NextOfType("signal");
    ASSERT_TRUE(m);
    EXPECT_EQ(BodyOf(*m), absl::StrCat("c", i));
    EXPECT_LT(absl::Now() - sent, absl::Milliseconds(500));
    absl::SleepFor(absl::Milliseconds(50));
  }
  flooder.join();
  std::set<std::string> limited;
  for (const Struct& m : UntilPong(*flood.candidate)) {
    ASSERT_EQ(Str(m, "code"), "RATE_LIMITED") << m.DebugString();
    limited.insert(Str(m, "ref"));
  }
  EXPECT_GE(limited.size(), 500u);
  const size_t accepted = kSent - limited.size();
  std::vector<int> got;
  while (got.size() < accepted) {
    auto m = flood.examiner->NextOfType("signal", absl::Seconds(10));
    ASSERT_TRUE(m) << got.size() << " of " << accepted;
    got.push_back(std::stoi(BodyOf(*m).substr(1)));
  }
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  for (int i : got) EXPECT_EQ(limited.count(absl::StrCat("f", i)), 0u) << i;
}

TEST_F(SignalHttpTest, ASecondConnectionReplacesTheFirst) {
  Interview iv = StartJoined(s);
  ASSERT_TRUE(iv.examiner->NextOfType("peer-joined"));
  auto second = Open(s, iv.w.candidates[0].token);
  Join(*second, iv.w.room, std::stoll(Str(iv.candidate_joined, "lastSeq")));
  auto replaced = iv.candidate->NextOfType("replaced");
  ASSERT_TRUE(replaced);
  iv.examiner->Send(SignalJson(iv.candidate_peer, "offer", "to-new"));
  auto offer = second->NextOfType("signal");
  ASSERT_TRUE(offer);
  EXPECT_EQ(BodyOf(*offer), "to-new");
  // The old one is out of the session; closing it tears nothing down.
  iv.candidate->Send(SignalJson(iv.examiner_peer, "answer", "old", "old"));
  EXPECT_EQ(Str(AnswerTo(*iv.candidate, "old"), "code"), "NOT_JOINED");
  iv.candidate->Cut();
  absl::SleepFor(absl::Seconds(5));  // Past the stack's 4 s grace period.
  iv.examiner->Send(SignalJson(iv.candidate_peer, "candidate", "after-close"));
  auto candidate = second->NextOfType("signal");
  ASSERT_TRUE(candidate);
  EXPECT_EQ(BodyOf(*candidate), "after-close");
  second->Send(SignalJson(iv.examiner_peer, "answer", "from-new"));
  auto answer = iv.examiner->NextOfType("signal");
  ASSERT_TRUE(answer);
  EXPECT_EQ(BodyOf(*answer), "from-new");
  for (const Struct& m : iv.examiner->skipped()) {
    EXPECT_NE(Str(m, "type"), "peer-left") << m.DebugString();
  }
  for (const Struct& m : UntilPong(*iv.examiner)) {
    EXPECT_NE(Str(m, "type"), "peer-left") << m.DebugString();
  }
}

TEST_F(SignalHttpTest, ACutClientResumesWithExactlyWhatItMissed) {
  Interview iv = StartJoined(s);
  for (int i = 0; i < 3; ++i) {
    iv.examiner->Send(SignalJson(iv.candidate_peer, "candidate", absl::StrCat("a", i)));
  }
  int64_t last_seq = 0;
  for (int i = 0; i < 3; ++i) {
    auto m = iv.candidate->NextOfType("signal");
    ASSERT_TRUE(m);
    EXPECT_EQ(BodyOf(*m), absl::StrCat("a", i));
    last_seq = std::stoll(Str(*m, "seq"));
  }
  iv.candidate->Cut();
  absl::SleepFor(absl::Milliseconds(300));
  for (int i = 0; i < 4; ++i) {
    iv.examiner->Send(SignalJson(iv.candidate_peer, "candidate", absl::StrCat("b", i)));
  }
  auto back = Open(s, iv.w.candidates[0].token);
  Struct joined = Join(*back, iv.w.room, last_seq);
  EXPECT_EQ(Str(joined, "gap"), "false");
  std::vector<std::string> missed;
  int64_t seq = last_seq;
  while (missed.size() < 4) {
    auto m = back->NextOfType("signal");
    ASSERT_TRUE(m) << missed.size();
    EXPECT_EQ(std::stoll(Str(*m, "seq")), ++seq);
    missed.push_back(BodyOf(*m));
  }
  EXPECT_EQ(missed, (std::vector<std::string>{"b0", "b1", "b2", "b3"}));
  // The examiner never saw the candidate leave.
  for (const Struct& m : iv.examiner->skipped()) EXPECT_NE(Str(m, "type"), "peer-left");
  // The next signal is the next seq: nothing was delivered twice.
  iv.examiner->Send(SignalJson(iv.candidate_peer, "candidate", "c0"));
  auto next = back->NextOfType("signal");
  ASSERT_TRUE(next);
  EXPECT_EQ(BodyOf(*next), "c0");
  EXPECT_EQ(std::stoll(Str(*next, "seq")), seq + 1);
}

TEST_F(SignalHttpTest, AServiceRestartIsInvisibleToClients) {
  Interview iv = StartJoined(s);
  iv.examiner->Send(SignalJson(iv.candidate_peer, "offer", "before"));
  auto before = iv.candidate->NextOfType("signal");
  ASSERT_TRUE(before);
  const size_t skipped_before = iv.candidate->skipped().size();
  s.KillAndRestartMediaSignaling();
  // Until the service is back, a Relay may be refused. A success has no answer, but the
  // connection's calls are made one at a time in order: the answer to the screen-share sent
  // after it comes once the Relay is done.
  std::string probe;
  for (int attempt = 0; attempt < 40 && probe.empty(); ++attempt) {
    std::string id = absl::StrCat("p", attempt);
    iv.examiner->Send(SignalJson(iv.candidate_peer, "candidate", id, id));
    iv.examiner->Send(R"({"type":"screen-share","on":false,"id":"b)" + id + R"("})");
    bool refused = false;
    while (auto m = iv.examiner->Next(absl::Seconds(10))) {
      if (Str(*m, "ref") == id) refused = true;
      if (Str(*m, "ref") == "b" + id) break;
    }
    if (!refused) {
      probe = id;
    } else {
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  ASSERT_FALSE(probe.empty());
  auto after = iv.candidate->NextOfType("signal", absl::Seconds(10));
  ASSERT_TRUE(after);
  EXPECT_EQ(BodyOf(*after), probe);
  // In between at most peer changes (the examiner's own reconnect), each seq once, in order.
  int64_t seq = std::stoll(Str(*before, "seq"));
  const auto& skipped = iv.candidate->skipped();
  for (size_t i = skipped_before; i < skipped.size(); ++i) {
    const std::string type = Str(skipped[i], "type");
    EXPECT_TRUE(type == "peer-updated" || type == "peer-joined") << skipped[i].DebugString();
    EXPECT_EQ(std::stoll(Str(skipped[i], "seq")), ++seq);
  }
  EXPECT_EQ(std::stoll(Str(*after, "seq")), seq + 1);
}

TEST_F(SignalHttpTest, NoInterviewBeforeItStartsAndAfterItEnds) {
  RoomWorld w = MakeRoomWorld(s);
  const ReadyCandidate& c = w.candidates[0];
  EnterRoom(s, w, c);
  auto candidate = Open(s, c.token);
  candidate->Send(R"({"type":"join","roomId":")" + w.room + R"(","id":"early"})");
  Struct early = AnswerTo(*candidate, "early");
  EXPECT_EQ(Str(early, "code"), "NO_INTERVIEW") << early.DebugString();
  EXPECT_EQ(Str(early, "roomId"), w.room);

  ASSERT_FALSE(StartInterview(s, w, c).empty());
  Join(*candidate, w.room);
  auto examiner = Open(s, w.examiner_tokens[0]);
  Join(*examiner, w.room);
  auto end = ExaminerAct(s, w, c, "end");
  ASSERT_EQ(end.status, 200) << end.body;
  for (LiveClient* client : {candidate.get(), examiner.get()}) {
    auto ended = client->NextOfType("session-ended", absl::Seconds(10));
    ASSERT_TRUE(ended);
    EXPECT_FALSE(Str(*ended, "reason").empty());
  }
  candidate->Send(R"({"type":"join","roomId":")" + w.room + R"(","id":"late"})");
  Struct late = AnswerTo(*candidate, "late");
  EXPECT_EQ(Str(late, "code"), "INTERVIEW_FINISHED") << late.DebugString();
}

TEST_F(SignalHttpTest, ScreenShareOnlyWhereTheExamAllowsIt) {
  Interview refused = StartJoined(s);
  refused.candidate->Send(R"({"type":"screen-share","on":true,"id":"ss"})");
  Struct error = AnswerTo(*refused.candidate, "ss");
  EXPECT_EQ(Str(error, "code"), "SCREEN_SHARE_NOT_ALLOWED") << error.DebugString();

  RoomWorldOptions options;
  options.screen_share_allowed = true;
  Interview allowed = StartJoined(s, options);
  allowed.candidate->Send(R"({"type":"screen-share","on":true,"id":"ss"})");
  Struct on = AnswerTo(*allowed.candidate, "ss");
  EXPECT_EQ(Str(on, "type"), "screen-share") << on.DebugString();
  EXPECT_EQ(Str(on, "on"), "true");
  auto updated = allowed.examiner->NextOfType("peer-updated");
  ASSERT_TRUE(updated);
  EXPECT_EQ(PeerIdOf(*updated, "peer"), allowed.candidate_peer);
  EXPECT_EQ(Str(updated->fields().at("peer").struct_value(), "screenSharing"), "true");
}

TEST_F(SignalHttpTest, LeaveEndsTheSessionForThatConnection) {
  Interview iv = StartJoined(s);
  iv.candidate->Send(R"({"type":"leave","id":"bye"})");
  Struct left = AnswerTo(*iv.candidate, "bye");
  EXPECT_EQ(Str(left, "type"), "left") << left.DebugString();
  auto peer_left = iv.examiner->NextOfType("peer-left");
  ASSERT_TRUE(peer_left);
  EXPECT_EQ(Str(*peer_left, "peerId"), iv.candidate_peer);
  EXPECT_EQ(Str(*peer_left, "reason"), "LEFT");
  iv.candidate->Send(SignalJson(iv.examiner_peer, "offer", "o", "after"));
  EXPECT_EQ(Str(AnswerTo(*iv.candidate, "after"), "code"), "NOT_JOINED");
}

TEST_F(SignalHttpTest, AParticipantTheServiceLostIsRejoinedAndItsSignalsStillArrive) {
  Interview iv = StartJoined(s);
  ASSERT_TRUE(iv.examiner->NextOfType("peer-joined").has_value());
  // The service forgets the candidate (as when its lease lapsed while Redis was away): its
  // next signal is refused NOT_JOINED; the gateway rejoins it and sends the signal again.
  s.RedisDeleteMatching("{ms:" + iv.interview_id + "}:p:" + iv.candidate_peer);
  iv.candidate->Send(SignalJson(iv.examiner_peer, "offer", "after-loss", "lost1"));
  iv.candidate->Send(SignalJson(iv.examiner_peer, "candidate", "c1"));
  std::vector<std::string> got;
  while (got.size() < 2) {
    auto m = iv.examiner->NextOfType("signal", absl::Seconds(10));
    if (!m) {
      for (const auto& c : UntilPong(*iv.candidate)) ADD_FAILURE() << c.DebugString();
    }
    ASSERT_TRUE(m.has_value()) << "got " << got.size();  // The candidate's messages above.
    got.push_back(BodyOf(*m));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"after-loss", "c1"}));  // In order.
  // The candidate's client heard of no error.
  for (const auto& m : UntilPong(*iv.candidate)) {
    EXPECT_NE(Str(m, "type"), "error") << m.DebugString();
  }
}

}  // namespace
}  // namespace admissions::testing
