#include "media_signaling/media_signaling_logic.h"

#include "common/crypto.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "media_signaling_fakes.h"

namespace admissions::media_signaling {
namespace {

using testing::FakePairingStore;
using testing::FakeRelayStore;
using testing::FakeWaitingRoom;
namespace wr = waiting_room::v1;

constexpr char kRoom[] = "5f0c7a52-3c1e-4d2b-9a55-1b2c3d4e5f60";
constexpr char kInterview[] = "0b7e6c1a-8f2d-4a51-b9c3-aa11bb22cc33";

Caller Candidate(const std::string& account = "cand-1", const std::string& session = "sid-web") {
  Caller c;
  c.account_id = account;
  c.session_id = session;
  c.roles = {"CANDIDATE"};
  return c;
}

Caller Examiner(const std::string& account = "exam-1") {
  Caller c;
  c.account_id = account;
  c.session_id = "sid-" + account;
  c.school_id = "school-1";
  c.roles = {"EXAMINER"};
  return c;
}

class MediaSignalingLogicTest : public ::testing::Test {
 protected:
  MediaSignalingLogicTest() : pairings_([this] { return now_; }) {
    InitCrypto();
    settings_.stun_urls = {"stun:127.0.0.1:3478"};
    settings_.turn_urls = {"turn:127.0.0.1:3478?transport=udp",
                           "turn:127.0.0.1:3478?transport=tcp"};
    settings_.turn_secret = "turn-shared-secret";
    settings_.now = [this] { return now_; };
    settings_.random = [this](size_t n) { return std::string(n, static_cast<char>(++seed_)); };
    wr::MediaContext room;
    room.set_room_id(kRoom);
    room.set_school_id("school-1");
    room.add_examiner_ids("exam-1");
    room.set_dual_camera(true);
    room.set_screen_share_allowed(true);
    room.set_current_account_id("cand-1");
    room.set_current_interview_id(kInterview);
    waiting_room_.rooms[kRoom] = room;
    wr::MediaContext cand = room;
    cand.set_candidate_name("Li Lei");
    cand.set_candidate_status(wr::INTERVIEWING);
    cand.set_entered(true);
    cand.set_interview_id(kInterview);
    waiting_room_.contexts[{kRoom, "cand-1"}] = cand;
    logic_ = std::make_unique<MediaSignalingLogic>(&pairings_, &relay_, &waiting_room_, settings_);
  }

  wr::MediaContext& CandidateContext() { return waiting_room_.contexts[{kRoom, "cand-1"}]; }

  absl::StatusOr<JoinedStream> Connect(const Caller& caller, int64_t after = 0) {
    v1::ConnectRequest req;
    req.set_room_id(kRoom);
    req.set_after_seq(after);
    ASSIGN_OR_RETURN(Admission a, logic_->Admit(caller, call_, req));
    return logic_->Join(a, "inst-a");
  }

  std::string NewCode(const Caller& web = Candidate()) {
    v1::CreatePairingCodeRequest req;
    req.set_room_id(kRoom);
    auto code = logic_->CreatePairingCode(web, call_, req);
    EXPECT_TRUE(code.ok()) << code.status();
    return code.ok() ? code->qr_payload() : "";
  }

  absl::Status Pair(const std::string& payload, const Caller& phone) {
    v1::PairDeviceRequest req;
    req.set_qr_payload(payload);
    return logic_->PairDevice(phone, call_, req).status();
  }

  absl::Status Relay(const Caller& caller, const JoinedStream& from, const std::string& to,
                     const std::string& kind, const std::string& sdp = "v=0") {
    v1::RelayRequest req;
    req.set_interview_id(from.self.interview_id);
    req.set_peer_id(from.self.peer_id);
    req.set_epoch(from.self.epoch);
    req.mutable_signal()->set_to(to);
    req.mutable_signal()->set_kind(kind);
    req.mutable_signal()->set_sdp(sdp);
    return logic_->Relay(caller, req);
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  int seed_ = 0;
  MediaSignalingSettings settings_;
  FakeWaitingRoom waiting_room_;
  FakePairingStore pairings_;
  FakeRelayStore relay_;
  std::unique_ptr<MediaSignalingLogic> logic_;
  CallContext call_{absl::InfiniteFuture(), "req-1", "Bearer token-of-caller"};
};

// ------------------------------------------------------------------------- ICE

TEST_F(MediaSignalingLogicTest, IceServersCarryTurnCredentials) {
  auto ice = logic_->GetIceServers(Candidate());
  ASSERT_TRUE(ice.ok());
  ASSERT_EQ(ice->ice_servers_size(), 2);
  EXPECT_EQ(ice->ice_servers(0).urls(0), "stun:127.0.0.1:3478");
  EXPECT_TRUE(ice->ice_servers(0).username().empty());
  const auto& turn = ice->ice_servers(1);
  EXPECT_EQ(turn.urls_size(), 2);
  EXPECT_EQ(turn.username(), "1700043200:cand-1");  // now + 12 h
  EXPECT_FALSE(turn.credential().empty());
  EXPECT_EQ(ice->expires_at().seconds(), 1700043200);
}

TEST_F(MediaSignalingLogicTest, NoSecretMeansStunOnly) {
  settings_.turn_secret.clear();
  MediaSignalingLogic logic(&pairings_, &relay_, &waiting_room_, settings_);
  auto ice = logic.GetIceServers(Examiner());
  ASSERT_TRUE(ice.ok());
  ASSERT_EQ(ice->ice_servers_size(), 1);
  EXPECT_FALSE(ice->has_expires_at());
}

// ------------------------------------------------------------------------- pairing

TEST_F(MediaSignalingLogicTest, PairingCodeIsStoredOnlyAsAHash) {
  std::string payload = NewCode();
  ASSERT_EQ(payload.rfind(kPairingPrefix, 0), 0u);
  std::string secret(32, '\x01');
  EXPECT_EQ(payload, std::string(kPairingPrefix) + Base64UrlEncode(secret));
  ASSERT_EQ(pairings_.codes.size(), 1u);
  const PairingCodeRow& row = pairings_.codes.begin()->second;
  EXPECT_EQ(row.code_hash, HexEncode(Sha256(secret)));
  EXPECT_EQ(row.session_id, "sid-web");
  EXPECT_EQ(row.room_id, kRoom);
  EXPECT_EQ(row.expires_at, now_ + absl::Seconds(120));
}

TEST_F(MediaSignalingLogicTest, PairingCodeRefusals) {
  v1::CreatePairingCodeRequest req;
  req.set_room_id(kRoom);
  EXPECT_EQ(logic_->CreatePairingCode(Examiner(), call_, req).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto st = logic_->CreatePairingCode(Candidate("stranger"), call_, req).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  CandidateContext().set_dual_camera(false);
  st = logic_->CreatePairingCode(Candidate(), call_, req).status();
  EXPECT_EQ(ReasonOf(st), "NOT_DUAL_CAMERA");
  CandidateContext().set_dual_camera(true);
  CandidateContext().set_candidate_status(wr::FINISHED);
  st = logic_->CreatePairingCode(Candidate(), call_, req).status();
  EXPECT_EQ(ReasonOf(st), "INTERVIEW_FINISHED");
  req.set_room_id("");
  st = logic_->CreatePairingCode(Candidate(), call_, req).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DetailsOf(st)["field"], "roomId");
}

TEST_F(MediaSignalingLogicTest, MalformedPayloadsNameTheField) {
  std::string good_secret = Base64UrlEncode(std::string(32, 'x'));
  for (const std::string& bad :
       {std::string(), std::string("hello"), std::string("admissions-pair:v1:"),
        std::string("admissions-pair:v1:!!!!"), std::string(kPairingPrefix) + "AAAA",
        std::string("admissions-pair:v2:") + good_secret,
        std::string(kPairingPrefix) + good_secret + std::string(500, 'A')}) {
    absl::Status st = Pair(bad, Candidate("cand-1", "sid-phone"));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(DetailsOf(st)["field"], "qrPayload") << bad;
  }
}

TEST_F(MediaSignalingLogicTest, UnknownCodeIsNotFound) {
  absl::Status st = Pair(std::string(kPairingPrefix) + Base64UrlEncode(std::string(32, 'z')),
                         Candidate("cand-1", "sid-phone"));
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReasonOf(st), "PAIRING_CODE_UNKNOWN");
}

TEST_F(MediaSignalingLogicTest, PairsThePhoneOnce) {
  std::string code = NewCode();
  // Another candidate's phone: refused, and the code stays usable.
  EXPECT_EQ(Pair(code, Candidate("cand-2", "sid-x")).code(), absl::StatusCode::kPermissionDenied);
  // The first device itself.
  absl::Status st = Pair(code, Candidate("cand-1", "sid-web"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  // Not verified on the web yet: refused, not consumed.
  CandidateContext().set_entered(false);
  st = Pair(code, Candidate("cand-1", "sid-phone"));
  EXPECT_EQ(ReasonOf(st), "VERIFY_ON_WEB_FIRST");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  CandidateContext().set_entered(true);
  // The waiting room is down: nothing is consumed.
  waiting_room_.second_device_error = absl::UnavailableError("down");
  EXPECT_FALSE(Pair(code, Candidate("cand-1", "sid-phone")).ok());
  waiting_room_.second_device_error = absl::OkStatus();
  waiting_room_.second_device.clear();

  v1::PairDeviceRequest req;
  req.set_qr_payload(code);
  auto paired = logic_->PairDevice(Candidate("cand-1", "sid-phone"), call_, req);
  ASSERT_TRUE(paired.ok()) << paired.status();
  EXPECT_EQ(paired->room_id(), kRoom);
  EXPECT_EQ(paired->role(), v1::SECONDARY);
  ASSERT_EQ(waiting_room_.second_device.size(), 1u);
  EXPECT_EQ(std::get<2>(waiting_room_.second_device[0]), "PAIRED");
  EXPECT_EQ((pairings_.phones[{"cand-1", kRoom}]), "sid-phone");

  st = Pair(code, Candidate("cand-1", "sid-phone"));
  EXPECT_EQ(ReasonOf(st), "PAIRING_CODE_USED");
}

TEST_F(MediaSignalingLogicTest, ExpiredCode) {
  std::string code = NewCode();
  now_ += absl::Seconds(121);
  absl::Status st = Pair(code, Candidate("cand-1", "sid-phone"));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(st), "PAIRING_CODE_EXPIRED");
}

// ------------------------------------------------------------------------- who joins as what

TEST_F(MediaSignalingLogicTest, RolesFromTheWaitingRoomAndThePairing) {
  auto exam = Connect(Examiner());
  ASSERT_TRUE(exam.ok()) << exam.status();
  const v1::Joined& j = exam->joined.joined();
  EXPECT_EQ(exam->joined.seq(), 0);
  EXPECT_EQ(j.interview_id(), kInterview);
  EXPECT_EQ(j.self().role(), v1::EXAMINER);
  EXPECT_EQ(j.self().peer_id(), "exam-1");
  EXPECT_EQ(j.epoch(), 1);
  EXPECT_EQ(j.grace_seconds(), 15);
  EXPECT_EQ(j.ice().ice_servers_size(), 2);

  auto web = Connect(Candidate());
  ASSERT_TRUE(web.ok()) << web.status();
  EXPECT_EQ(web->joined.joined().self().role(), v1::CANDIDATE);
  EXPECT_TRUE(web->joined.joined().self().send_audio());
  ASSERT_EQ(web->joined.joined().peers_size(), 1);
  EXPECT_EQ(web->joined.joined().peers(0).peer_id(), "exam-1");

  pairings_.phones[{"cand-1", kRoom}] = "sid-phone";
  auto phone = Connect(Candidate("cand-1", "sid-phone"));
  ASSERT_TRUE(phone.ok()) << phone.status();
  const v1::Peer& self = phone->joined.joined().self();
  EXPECT_EQ(self.role(), v1::SECONDARY);
  EXPECT_EQ(self.peer_id(), "cand-1/2");
  EXPECT_FALSE(self.send_audio());
  EXPECT_TRUE(self.send_video());
  EXPECT_EQ(self.name(), "Li Lei");
}

TEST_F(MediaSignalingLogicTest, ConnectRefusals) {
  EXPECT_EQ(Connect(Examiner("exam-9")).status().code(), absl::StatusCode::kPermissionDenied);
  Caller other_school = Examiner();  // Listed on the room, but of another school.
  other_school.school_id = "school-2";
  EXPECT_EQ(Connect(other_school).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Connect(Candidate("stranger")).status().code(), absl::StatusCode::kPermissionDenied);
  CandidateContext().set_candidate_status(wr::WAITING);
  CandidateContext().set_interview_id("");
  EXPECT_EQ(ReasonOf(Connect(Candidate()).status()), "NO_INTERVIEW");
  CandidateContext().set_candidate_status(wr::FINISHED);
  EXPECT_EQ(ReasonOf(Connect(Candidate()).status()), "INTERVIEW_FINISHED");
  CandidateContext().set_candidate_status(wr::INTERVIEWING);
  CandidateContext().set_room_closed(true);
  EXPECT_EQ(ReasonOf(Connect(Candidate()).status()), "ROOM_CLOSED");
  waiting_room_.rooms[kRoom].set_current_interview_id("");
  EXPECT_EQ(ReasonOf(Connect(Examiner()).status()), "NO_INTERVIEW");
  EXPECT_EQ(Connect(Candidate(), -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DetailsOf(Connect(Candidate(), -1).status())["field"], "afterSeq");
  v1::ConnectRequest req;
  EXPECT_EQ(DetailsOf(logic_->Admit(Candidate(), call_, req).status())["field"], "roomId");
  req.set_room_id("room\nwith\nnewlines");
  EXPECT_EQ(DetailsOf(logic_->Admit(Candidate(), call_, req).status())["field"], "roomId");
}

TEST_F(MediaSignalingLogicTest, ResumeReportsAGapOnlyWhenMessagesWereDropped) {
  Mailbox mb;
  mb.last_seq = 7;
  for (int64_t seq = 5; seq <= 7; ++seq) {
    v1::Delivery d;
    d.set_seq(seq);
    mb.deliveries.push_back(d);
  }
  relay_.mailboxes[{kInterview, "cand-1"}] = mb;
  auto joined = Connect(Candidate(), 4);
  ASSERT_TRUE(joined.ok());
  EXPECT_FALSE(joined->joined.joined().gap());
  EXPECT_EQ(joined->backlog.size(), 3u);
  EXPECT_EQ(joined->cursor, 7);
  joined = Connect(Candidate(), 2);
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(joined->joined.joined().gap());
  joined = Connect(Candidate(), 7);
  ASSERT_TRUE(joined.ok());
  EXPECT_FALSE(joined->joined.joined().gap());
  EXPECT_TRUE(joined->backlog.empty());
  // A position past the newest seq (the counters were lost): everything kept, with a gap.
  joined = Connect(Candidate(), 99);
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(joined->joined.joined().gap());
  EXPECT_EQ(joined->backlog.size(), 3u);
}

// ------------------------------------------------------------------------- relay

TEST(MediaSignalingGlareTest, PoliteIsTheGreaterPeerIdBytewise) {
  EXPECT_TRUE(IsPolite("b", "a"));
  EXPECT_FALSE(IsPolite("a", "b"));
  EXPECT_TRUE(IsPolite("cand-1/2", "cand-1"));
  EXPECT_TRUE(IsPolite("\xc3\xa9", "z"));  // Bytes above 0x7f sort last.
  EXPECT_FALSE(IsPolite("A", "a"));
}

TEST(MediaSignalingValidationTest, SignalsAreCheckedFieldByField) {
  auto field = [](const v1::Signal& s) {
    return DetailsOf(CleanSignal("me", s).status())["field"];
  };
  v1::Signal s;
  EXPECT_EQ(field(s), "signal.to");
  s.set_to("me");
  EXPECT_EQ(field(s), "signal.to");
  s.set_to("bad peer");
  EXPECT_EQ(field(s), "signal.to");
  s.set_to("you");
  EXPECT_EQ(field(s), "signal.kind");
  s.set_kind("pranswer");
  EXPECT_EQ(field(s), "signal.kind");
  s.set_kind("offer");
  EXPECT_EQ(field(s), "signal.sdp");
  s.set_sdp(std::string(32 * 1024 + 1, 'v'));
  EXPECT_EQ(field(s), "signal.sdp");
  s.set_sdp("v=0");
  s.mutable_candidate()->set_candidate("dropped");
  auto clean = CleanSignal("me", s);
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(clean->from(), "me");
  EXPECT_FALSE(clean->has_candidate());

  v1::Signal c;
  c.set_to("you");
  c.set_kind("candidate");
  c.set_sdp("dropped");
  EXPECT_EQ(field(c), "signal.candidate.candidate");
  c.mutable_candidate()->set_candidate(std::string(1025, 'c'));
  EXPECT_EQ(field(c), "signal.candidate.candidate");
  c.mutable_candidate()->set_candidate("candidate:1 1 udp 1 10.0.0.1 9 typ host");
  c.mutable_candidate()->set_sdp_m_line_index(-1);
  EXPECT_EQ(field(c), "signal.candidate.sdpMLineIndex");
  c.mutable_candidate()->set_sdp_m_line_index(0);
  c.mutable_candidate()->set_sdp_mid(std::string(300, 'm'));
  EXPECT_EQ(field(c), "signal.candidate.sdpMid");
  c.mutable_candidate()->set_sdp_mid("0");
  clean = CleanSignal("me", c);
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->sdp().empty());

  v1::Signal e;
  e.set_to("you");
  e.set_kind("end-of-candidates");
  EXPECT_TRUE(CleanSignal("me", e).ok());
  e.mutable_candidate()->set_candidate("candidate:1");
  EXPECT_EQ(field(e), "signal.candidate.candidate");
}

TEST_F(MediaSignalingLogicTest, RelayRequestsAreChecked) {
  auto exam = Connect(Examiner());
  ASSERT_TRUE(exam.ok());
  v1::RelayRequest req;
  auto field = [&] { return DetailsOf(logic_->Relay(Examiner(), req))["field"]; };
  EXPECT_EQ(field(), "interviewId");
  req.set_interview_id(kInterview);
  EXPECT_EQ(field(), "peerId");
  req.set_peer_id("exam-1");
  EXPECT_EQ(field(), "epoch");
  req.set_epoch(exam->self.epoch);
  EXPECT_EQ(field(), "signal");
  req.mutable_signal()->set_to("exam-1");
  EXPECT_EQ(field(), "signal.to");
  req.mutable_signal()->set_to("cand-1");
  req.mutable_signal()->set_kind("offer");
  req.mutable_signal()->set_sdp("v=0");
  EXPECT_EQ(ReasonOf(logic_->Relay(Examiner(), req)), "UNKNOWN_PEER");
  ASSERT_TRUE(Connect(Candidate()).ok());
  EXPECT_TRUE(logic_->Relay(Examiner(), req).ok());
  ASSERT_EQ(relay_.relayed.size(), 1u);
  EXPECT_EQ(relay_.relayed[0].from(), "exam-1");
  // Someone else's token with the examiner's connection.
  EXPECT_EQ(logic_->Relay(Examiner("exam-2"), req).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(MediaSignalingLogicTest, GlareRefusesThePolitePeersOffer) {
  auto exam = Connect(Examiner());  // "exam-1" > "cand-1": the examiner is polite.
  auto web = Connect(Candidate());
  ASSERT_TRUE(exam.ok() && web.ok());
  ASSERT_TRUE(Relay(Candidate(), *web, "exam-1", "offer").ok());
  absl::Status st = Relay(Examiner(), *exam, "cand-1", "offer");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(st), "GLARE");
  // The polite peer rolls back and answers; its next offer goes through.
  ASSERT_TRUE(Relay(Examiner(), *exam, "cand-1", "answer").ok());
  EXPECT_TRUE(Relay(Examiner(), *exam, "cand-1", "offer").ok());
  // The impolite peer's crossing offer is relayed and the polite one's forgotten.
  EXPECT_TRUE(Relay(Candidate(), *web, "exam-1", "offer").ok());
  EXPECT_EQ(relay_.offers.count({"exam-1", "cand-1"}), 0u);
}

TEST_F(MediaSignalingLogicTest, AReplacedConnectionIsRefused) {
  auto first = Connect(Candidate());
  ASSERT_TRUE(Connect(Examiner()).ok());
  auto second = Connect(Candidate());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(second->self.epoch, first->self.epoch + 1);
  absl::Status st = Relay(Candidate(), *first, "exam-1", "offer");
  EXPECT_EQ(ReasonOf(st), "REPLACED");
  EXPECT_TRUE(Relay(Candidate(), *second, "exam-1", "offer").ok());
  // The old stream's end does not disconnect the new one.
  logic_->Disconnected(first->self);
  EXPECT_TRUE(relay_.sessions[kInterview]["cand-1"].connected);
  v1::LeaveRequest leave;
  leave.set_interview_id(kInterview);
  leave.set_peer_id("cand-1");
  leave.set_epoch(first->self.epoch);
  EXPECT_EQ(ReasonOf(logic_->Leave(Candidate(), leave)), "REPLACED");
  leave.set_epoch(second->self.epoch);
  EXPECT_TRUE(logic_->Leave(Candidate(), leave).ok());
  EXPECT_TRUE(logic_->Leave(Candidate(), leave).ok());  // Gone already: done.
}

// ------------------------------------------------------------------------- screen share

TEST_F(MediaSignalingLogicTest, ScreenShareIsTheCandidatesAndRecorded) {
  auto exam = Connect(Examiner());
  auto web = Connect(Candidate());
  ASSERT_TRUE(exam.ok() && web.ok());
  v1::SetScreenShareRequest req;
  req.set_interview_id(kInterview);
  req.set_peer_id("exam-1");
  req.set_epoch(exam->self.epoch);
  req.set_on(true);
  EXPECT_EQ(logic_->SetScreenShare(Examiner(), call_, req).code(),
            absl::StatusCode::kPermissionDenied);
  req.set_peer_id("cand-1");
  req.set_epoch(web->self.epoch);
  CandidateContext().set_screen_share_allowed(false);
  absl::Status st = logic_->SetScreenShare(Candidate(), call_, req);
  EXPECT_EQ(ReasonOf(st), "SCREEN_SHARE_NOT_ALLOWED");
  EXPECT_TRUE(waiting_room_.proctor.empty());
  CandidateContext().set_screen_share_allowed(true);
  ASSERT_TRUE(logic_->SetScreenShare(Candidate(), call_, req).ok());
  ASSERT_EQ(waiting_room_.proctor.size(), 1u);
  EXPECT_EQ(std::get<1>(waiting_room_.proctor[0]), wr::SCREEN_SHARE_STARTED);
  EXPECT_EQ(std::get<2>(waiting_room_.proctor[0]), "Bearer token-of-caller");
  EXPECT_TRUE(relay_.sessions[kInterview]["cand-1"].sharing);
  // The waiting room's own refusal wins: nothing is marked.
  waiting_room_.proctor_error =
      Error(absl::StatusCode::kPermissionDenied, "SCREEN_SHARE_NOT_ALLOWED", "no");
  req.set_on(false);
  EXPECT_EQ(ReasonOf(logic_->SetScreenShare(Candidate(), call_, req)), "SCREEN_SHARE_NOT_ALLOWED");
  EXPECT_TRUE(relay_.sessions[kInterview]["cand-1"].sharing);
}

// ------------------------------------------------------------------------- periodic work

TEST_F(MediaSignalingLogicTest, ALostSecondDeviceIsReportedOnce) {
  relay_.to_remove = {
      Removed{kInterview, kRoom, "cand-1/2", "cand-1", v1::SECONDARY},
      Removed{kInterview, kRoom, "exam-1", "exam-1", v1::EXAMINER},
  };
  // The waiting room is down at first: the loss waits in the outbox (PostgreSQL) and is
  // told on a later sweep, once.
  waiting_room_.second_device_error = absl::UnavailableError("down");
  logic_->Sweep();
  ASSERT_EQ(pairings_.losses.size(), 1u);
  EXPECT_EQ(pairings_.losses[0].reason, "TIMEOUT");
  EXPECT_TRUE(pairings_.reported.empty());
  waiting_room_.second_device_error = absl::OkStatus();
  waiting_room_.second_device.clear();
  logic_->Sweep();  // Another instance's sweep finds nothing left to remove; it reports.
  logic_->Sweep();
  ASSERT_EQ(waiting_room_.second_device.size(), 1u);
  EXPECT_EQ(waiting_room_.second_device[0],
            std::make_tuple(std::string(kRoom), std::string("cand-1"), std::string("LOST")));
  EXPECT_EQ(pairings_.losses.size(), 1u);
  EXPECT_EQ(pairings_.reported.count(1), 1u);
}

TEST_F(MediaSignalingLogicTest, APhoneThatLeavesIsALossAndOneThatComesBackIsPairedAgain) {
  pairings_.phones[{"cand-1", kRoom}] = "sid-phone";
  auto phone = Connect(Candidate("cand-1", "sid-phone"));
  ASSERT_TRUE(phone.ok()) << phone.status();
  EXPECT_TRUE(waiting_room_.second_device.empty());  // PAIRED already: nothing to tell.
  v1::LeaveRequest leave;
  leave.set_interview_id(kInterview);
  leave.set_peer_id("cand-1/2");
  leave.set_epoch(phone->joined.joined().epoch());
  ASSERT_TRUE(logic_->Leave(Candidate("cand-1", "sid-phone"), leave).ok());
  ASSERT_EQ(waiting_room_.second_device.size(), 1u);
  EXPECT_EQ(std::get<2>(waiting_room_.second_device[0]), "LOST");

  CandidateContext().set_second_device("LOST");
  ASSERT_TRUE(Connect(Candidate("cand-1", "sid-phone")).ok());
  ASSERT_EQ(waiting_room_.second_device.size(), 2u);
  EXPECT_EQ(std::get<2>(waiting_room_.second_device[1]), "PAIRED");
  // The first device leaving is not the second camera's loss.
  auto web = Connect(Candidate());
  ASSERT_TRUE(web.ok());
  leave.set_peer_id("cand-1");
  leave.set_epoch(web->joined.joined().epoch());
  ASSERT_TRUE(logic_->Leave(Candidate(), leave).ok());
  EXPECT_EQ(waiting_room_.second_device.size(), 2u);
}

TEST_F(MediaSignalingLogicTest, SessionsEndWhenTheInterviewIsNoLongerCurrent) {
  ASSERT_TRUE(Connect(Candidate()).ok());
  logic_->CheckSessions({kInterview});
  EXPECT_TRUE(relay_.ended.empty());
  CandidateContext().set_candidate_status(wr::DEFERRED);
  CandidateContext().set_interview_id("");
  CandidateContext().set_current_interview_id("");
  waiting_room_.context_error = absl::UnavailableError("down");
  logic_->CheckSessions({kInterview});
  EXPECT_TRUE(relay_.ended.empty());  // Unknown is not over.
  waiting_room_.context_error = absl::OkStatus();
  logic_->CheckSessions({kInterview});
  EXPECT_EQ(relay_.ended[kInterview], "DEFERRED");
  EXPECT_EQ(ReasonOf(Connect(Candidate()).status()), "NO_INTERVIEW");
}

TEST_F(MediaSignalingLogicTest, AFinishedInterviewEndsAsFinished) {
  ASSERT_TRUE(Connect(Examiner()).ok());
  CandidateContext().set_candidate_status(wr::FINISHED);
  CandidateContext().set_interview_id("");
  CandidateContext().set_current_interview_id("");
  logic_->CheckSessions({kInterview});
  EXPECT_EQ(relay_.ended[kInterview], "FINISHED");
}

}  // namespace
}  // namespace admissions::media_signaling
