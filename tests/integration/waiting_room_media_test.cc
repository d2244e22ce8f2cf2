// What the waiting room does for media signaling (issue 8): the internal GetMediaContext
// and SetSecondDevice, the second-device state in the examiners' list with its proctoring
// event, and screen sharing recorded only where the exam allows it (R20).
#include <gtest/gtest.h>

#include <string>

#include "grpcpp/create_channel.h"
#include "integration/harness.h"
#include "integration/live_client.h"
#include "integration/room_world.h"
#include "waiting_room/v1/waiting_room.grpc.pb.h"

namespace admissions::testing {
namespace {

namespace wr = waiting_room::v1;

RoomWorldOptions Options(int candidates, int examiners, bool dual_camera, bool screen_share) {
  RoomWorldOptions o;
  o.candidates = candidates;
  o.examiners = examiners;
  o.dual_camera = dual_camera;
  o.screen_share_allowed = screen_share;
  return o;
}

class WaitingRoomMediaTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();
  void SetUp() override { s.RedisDeleteMatching("rl:*"); }

  std::unique_ptr<wr::WaitingRoom::Stub> Stub() {
    return wr::WaitingRoom::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(s.waiting_room_port()), grpc::InsecureChannelCredentials()));
  }

  wr::MediaContext Context(const RoomWorld& w, const std::string& account) {
    grpc::ClientContext ctx;
    wr::GetMediaContextRequest req;
    req.set_room_id(w.room);
    req.set_account_id(account);
    wr::MediaContext out;
    auto st = Stub()->GetMediaContext(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  grpc::Status SetDevice(const RoomWorld& w, const std::string& account, const std::string& state) {
    grpc::ClientContext ctx;
    wr::SetSecondDeviceRequest req;
    req.set_room_id(w.room);
    req.set_account_id(account);
    req.set_state(state);
    wr::SetSecondDeviceResponse out;
    return Stub()->SetSecondDevice(&ctx, req, &out);
  }

  std::string SecondDeviceInList(const RoomWorld& w, const std::string& account) {
    return SecondDeviceState(s, w, account);
  }

  int ProctorCount(const RoomWorld& w, const std::string& account, const std::string& type) {
    auto r =
        s.Call("GET", "/v1/examiner/rooms/" + w.room + "/candidates/" + account + "/proctor-events",
               "", Bearer(w.examiner_tokens[0]));
    EXPECT_EQ(r.status, 200) << r.body;
    int n = 0;
    const auto* list = r.Find("events");
    if (list == nullptr) return 0;
    for (const auto& e : list->list_value().values()) {
      if (e.struct_value().fields().at("type").string_value() == type) ++n;
    }
    return n;
  }
};

TEST_F(WaitingRoomMediaTest, TheContextSaysWhoMayJoinAndFollowsTheInterview) {
  RoomWorld w = MakeRoomWorld(s, Options(2, 2, /*dual_camera=*/true, /*screen_share=*/false));
  const auto& c = w.candidates[0];
  // An assignment is bound to the account on the candidate's first call about the exam.
  EXPECT_EQ(Context(w, c.c.account_id).candidate_status(), wr::CANDIDATE_STATUS_UNSPECIFIED);
  ASSERT_EQ(s.Call("GET", "/v1/exams/" + w.exam + "/rooms", "", Bearer(c.token)).status, 200);
  auto ctx = Context(w, c.c.account_id);
  EXPECT_EQ(ctx.room_id(), w.room);
  EXPECT_EQ(ctx.school_id(), w.school);
  ASSERT_EQ(ctx.examiner_ids_size(), 2);
  EXPECT_TRUE(ctx.dual_camera());
  EXPECT_FALSE(ctx.screen_share_allowed());
  EXPECT_FALSE(ctx.room_closed());
  EXPECT_EQ(ctx.candidate_status(), wr::NOT_ENTERED);
  EXPECT_FALSE(ctx.entered());
  EXPECT_EQ(ctx.second_device(), "NONE");
  EXPECT_TRUE(ctx.current_interview_id().empty());

  EnterRoom(s, w, c);
  EXPECT_TRUE(Context(w, c.c.account_id).entered());
  std::string interview = StartInterview(s, w, c);
  ASSERT_FALSE(interview.empty());
  ctx = Context(w, c.c.account_id);
  EXPECT_EQ(ctx.candidate_status(), wr::INTERVIEWING);
  EXPECT_EQ(ctx.interview_id(), interview);
  EXPECT_EQ(ctx.current_interview_id(), interview);
  EXPECT_EQ(ctx.current_account_id(), c.c.account_id);
  // Another candidate sees the room's interview, not one of their own.
  auto other = Context(w, w.candidates[1].c.account_id);
  EXPECT_TRUE(other.interview_id().empty());
  EXPECT_EQ(other.current_interview_id(), interview);

  ASSERT_EQ(ExaminerAct(s, w, c, "end").status, 200);
  ctx = Context(w, c.c.account_id);
  EXPECT_EQ(ctx.candidate_status(), wr::FINISHED);
  EXPECT_FALSE(ctx.entered());
  EXPECT_TRUE(ctx.interview_id().empty());
  EXPECT_TRUE(ctx.current_interview_id().empty());

  // An unknown room is NOT_FOUND; an unassigned account only describes the room.
  grpc::ClientContext cc;
  wr::GetMediaContextRequest req;
  req.set_room_id("00000000-0000-0000-0000-000000000000");
  wr::MediaContext out;
  EXPECT_EQ(Stub()->GetMediaContext(&cc, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Context(w, "nobody").candidate_name().empty());
}

TEST_F(WaitingRoomMediaTest, ALostSecondDeviceIsShownAndRecordedOnce) {
  RoomWorld w = MakeRoomWorld(s, Options(1, 1, /*dual_camera=*/true, /*screen_share=*/false));
  const auto& c = w.candidates[0];
  EnterRoom(s, w, c);
  EXPECT_EQ(SecondDeviceInList(w, c.c.account_id), "NONE");
  ASSERT_TRUE(SetDevice(w, c.c.account_id, "PAIRED").ok());
  EXPECT_EQ(SecondDeviceInList(w, c.c.account_id), "PAIRED");
  EXPECT_EQ(Context(w, c.c.account_id).second_device(), "PAIRED");
  EXPECT_EQ(ProctorCount(w, c.c.account_id, "SECOND_DEVICE_LOST"), 0);

  ASSERT_TRUE(SetDevice(w, c.c.account_id, "LOST").ok());
  ASSERT_TRUE(SetDevice(w, c.c.account_id, "LOST").ok());  // Told twice: recorded once.
  EXPECT_EQ(SecondDeviceInList(w, c.c.account_id), "LOST");
  EXPECT_EQ(ProctorCount(w, c.c.account_id, "SECOND_DEVICE_LOST"), 1);
  // The examiners' stream carries it.
  auto events =
      s.Call("GET", "/v1/rooms/" + w.room + "/events?after=0", "", Bearer(w.examiner_tokens[0]));
  ASSERT_EQ(events.status, 200);
  EXPECT_NE(events.body.find("SECOND_DEVICE_LOST"), std::string::npos) << events.body;
  // A candidate does not see examiners' proctoring events.
  auto mine = s.Call("GET", "/v1/rooms/" + w.room + "/events?after=0", "", Bearer(c.token));
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(mine.body.find("SECOND_DEVICE_LOST"), std::string::npos) << mine.body;

  // Bad input.
  EXPECT_EQ(SetDevice(w, c.c.account_id, "BROKEN").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(SetDevice(w, "", "LOST").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(SetDevice(w, "not-assigned", "LOST").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(WaitingRoomMediaTest, ScreenSharingIsRecordedOnlyWhereTheExamAllowsIt) {
  for (bool allowed : {false, true}) {
    RoomWorld w = MakeRoomWorld(s, Options(1, 1, /*dual_camera=*/false, allowed));
    const auto& c = w.candidates[0];
    EnterRoom(s, w, c);
    auto post = [&](const std::string& type) {
      return s.Call("POST", "/v1/rooms/" + w.room + "/proctor-events",
                    R"({"type":")" + type + "\"}", Bearer(c.token));
    };
    auto started = post("SCREEN_SHARE_STARTED");
    if (allowed) {
      EXPECT_EQ(started.status, 204) << started.body;
      EXPECT_EQ(post("SCREEN_SHARE_STOPPED").status, 204);
      EXPECT_EQ(ProctorCount(w, c.c.account_id, "SCREEN_SHARE_STARTED"), 1);
      EXPECT_EQ(ProctorCount(w, c.c.account_id, "SCREEN_SHARE_STOPPED"), 1);
    } else {
      ExpectError(started, 403, "SCREEN_SHARE_NOT_ALLOWED");
      EXPECT_EQ(ProctorCount(w, c.c.account_id, "SCREEN_SHARE_STARTED"), 0);
    }
    // Full screen is recorded either way (R19).
    EXPECT_EQ(post("FULLSCREEN_EXIT").status, 204);
    EXPECT_EQ(ProctorCount(w, c.c.account_id, "FULLSCREEN_EXIT"), 1);
  }
}

TEST_F(WaitingRoomMediaTest, FullScreenExitsReachTheExaminersLiveAndOnlyThem) {
  RoomWorld w = MakeRoomWorld(s, Options(1, 1, /*dual_camera=*/false, /*screen_share=*/false));
  const auto& c = w.candidates[0];
  EnterRoom(s, w, c);
  LiveClient examiner, candidate;
  ASSERT_TRUE(examiner.Connect(s.gateway_port(), w.examiner_tokens[0]));
  ASSERT_TRUE(candidate.Connect(s.gateway_port(), c.token));
  examiner.Subscribe(w.room, 0);
  candidate.Subscribe(w.room, 0);
  auto sub = examiner.NextOfType("subscribed");
  ASSERT_TRUE(sub.has_value());
  ASSERT_TRUE(candidate.NextOfType("subscribed").has_value());
  const int64_t after = std::stoll(Str(*sub, "lastEventId"));

  absl::Time sent = absl::Now();
  for (const char* type : {"FULLSCREEN_CONFIRMED", "FULLSCREEN_EXIT"}) {
    auto r = s.Call("POST", "/v1/rooms/" + w.room + "/proctor-events",
                    std::string(R"({"type":")") + type + "\"}", Bearer(c.token));
    ASSERT_EQ(r.status, 204) << r.body;
  }
  std::vector<std::string> seen;
  while (seen.size() < 2) {
    auto m = examiner.NextOfType("event", absl::Seconds(5));
    ASSERT_TRUE(m.has_value()) << "the examiner did not get the proctoring events live";
    const auto& ev = m->fields().at("event").struct_value();
    if (std::stoll(Str(ev, "id")) <= after || Str(ev, "type") != "PROCTOR_EVENT") continue;
    EXPECT_EQ(Str(ev, "accountId"), c.c.account_id);
    seen.push_back(Str(ev, "proctorType"));
  }
  EXPECT_LT(absl::Now() - sent, absl::Seconds(3));
  EXPECT_EQ(seen, (std::vector<std::string>{"FULLSCREEN_CONFIRMED", "FULLSCREEN_EXIT"}));
  // The candidate's own stream does not carry the examiners' proctoring record.
  while (auto m = candidate.Next(absl::Milliseconds(500))) {
    if (Str(*m, "type") != "event") continue;
    EXPECT_NE(Str(m->fields().at("event").struct_value(), "type"), "PROCTOR_EVENT");
  }
}

}  // namespace
}  // namespace admissions::testing
