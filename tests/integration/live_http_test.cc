// The live channel end to end: GET /v1/live on real gateways in front of the real
// waiting-room service, PostgreSQL and Redis. Each reader gets exactly the events its
// long poll would give it, and 100 subscribers resume across a gateway restart with no
// gap and no duplicate (issue 7's fault), checked against the service's own record.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "google/protobuf/struct.pb.h"
#include "integration/harness.h"
#include "integration/live_client.h"

namespace admissions::testing {
namespace {

const std::string kHeader = "name,idType,idNumber,gender,major,direction\n";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

class LiveHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();

  void SetUp() override { s.RedisDeleteMatching("rl:*"); }

  // Every event id the reader's long-poll route gives, paging to the end.
  std::vector<int64_t> ServiceIds(const std::string& token, const std::string& room) {
    std::vector<int64_t> out;
    int64_t after = 0;
    for (;;) {
      auto r = s.Call("GET", absl::StrCat("/v1/rooms/", room, "/events?after=", after), "",
                      Bearer(token));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) return out;
      const auto* events = r.Find("events");
      if (events == nullptr || events->list_value().values().empty()) return out;
      for (const auto& e : events->list_value().values()) {
        out.push_back(std::stoll(e.struct_value().fields().at("id").string_value()));
      }
      after = out.back();
    }
  }

  std::string Staff(const std::string& op, const std::string& school, const std::string& role,
                    std::string* id) {
    std::string login = "live-" + HexEncode(RandomBytes(4));
    auto r =
        s.Call("POST", "/v1/admin/staff",
               absl::StrCat(R"({"schoolId":")", school, R"(","role":")", role, R"(","login":")",
                            login, R"(","password":"staff-pass-1",)", R"("name":"考官"})"),
               Bearer(op));
    EXPECT_EQ(r.status, 201) << r.body;
    if (id != nullptr) *id = r.Str("accountId");
    return Login(s, login, "staff-pass-1").first;
  }

  // A candidate on the roster who completed every step and entered `room`.
  ReadyCandidate Entered(const std::string& admin, const std::string& exam,
                         const std::string& room) {
    ReadyCandidate rc = VerifiedCandidate(s);
    auto h = Bearer(admin);
    h["Content-Type"] = "text/csv";
    EXPECT_EQ(s.Call("POST", "/v1/admin/exams/" + exam + "/roster",
                     kHeader + "张三,RESIDENT_ID," + rc.c.id_number + ",男,计算机,人工智能\n", h)
                  .status,
              200);
    auto n = s.Call("GET", "/v1/notice", "", Bearer(rc.token));
    EXPECT_EQ(s.Call("POST", "/v1/notice:read", R"({"version":)" + n.Str("version") + "}",
                     Bearer(rc.token))
                  .status,
              204);
    EXPECT_EQ(
        s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(rc.token)).status,
        204);
    auto c = s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(rc.token));
    EXPECT_EQ(s.Call("POST", "/v1/exams/" + exam + "/commitment:sign",
                     R"({"version":)" + c.Str("version") + "}", Bearer(rc.token))
                  .status,
              204);
    EXPECT_EQ(s.Call("POST", "/v1/admin/rooms/" + room + "/assignments",
                     R"({"idNumber":")" + rc.c.id_number + "\"}", Bearer(admin))
                  .status,
              201);
    auto v = s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM","roomId":")" + room + "\"}",
                    Bearer(rc.token));
    EXPECT_EQ(v.status, 201) << v.body;
    EXPECT_EQ(s.Call("POST", "/v1/verifications:scan",
                     R"({"qrPayload":")" + v.Str("qrPayload") + "\"}", Bearer(rc.token))
                  .status,
              200);
    EXPECT_EQ(s.Call("POST", "/v1/dev/verifications/" + v.Str("verificationId") + ":complete",
                     R"({"passed":true})")
                  .status,
              200);
    auto enter =
        s.Call("POST", "/v1/rooms/" + room + ":enter",
               R"({"verificationId":")" + v.Str("verificationId") + "\"}", Bearer(rc.token));
    EXPECT_EQ(enter.status, 200) << enter.body;
    return rc;
  }

  void SendGroupMessage(const std::string& examiner, const std::string& room, int i) {
    auto r = s.Call("POST", "/v1/examiner/rooms/" + room + "/messages",
                    absl::StrCat(R"({"text":"消息 )", i, R"("})"), Bearer(examiner));
    ASSERT_EQ(r.status, 201) << r.body;
  }
};

TEST_F(LiveHttpTest, EachReaderGetsItsEventsAndAHundredResumeAcrossAGatewayRestart) {
  std::string op = Login(s, "operator", "operator-dev-pass").first;
  auto school =
      s.Call("POST", "/v1/admin/schools",
             absl::StrCat(R"({"code":"L)", HexEncode(RandomBytes(3)), R"(","name":"直播大学"})"),
             Bearer(op));
  ASSERT_EQ(school.status, 201) << school.body;
  std::string school_id = school.Str("schoolId");
  auto exam =
      s.Call("POST", "/v1/admin/exams",
             absl::StrCat(R"({"schoolId":")", school_id,
                          R"(","title":"复试","mode":"SINGLE_CAMERA","commitmentText":"承诺"})"),
             Bearer(op));
  ASSERT_EQ(exam.status, 201) << exam.body;
  std::string exam_id = exam.Str("examId");
  std::string admin = Staff(op, school_id, "SCHOOL_ADMIN", nullptr);
  std::string examiner_id;
  std::string examiner = Staff(admin, school_id, "EXAMINER", &examiner_id);
  auto room_r = s.Call("POST", "/v1/admin/exams/" + exam_id + "/rooms",
                       absl::StrCat(R"({"name":"直播考场","startsAt":")", Rfc3339(absl::Now()),
                                    R"(","endsAt":")", Rfc3339(absl::Now() + absl::Hours(2)),
                                    R"(","examinerIds":[")", examiner_id, R"("]})"),
                       Bearer(admin));
  ASSERT_EQ(room_r.status, 201) << room_r.body;
  std::string room = room_r.Str("roomId");
  ReadyCandidate a = Entered(admin, exam_id, room);
  ReadyCandidate b = Entered(admin, exam_id, room);

  // 1. Through a second gateway: an examiner, both candidates, and 97 more examiner
  // connections (one token may hold many), every one subscribed from the start.
  int g2 = s.StartGateway();
  std::vector<std::unique_ptr<LiveClient>> clients;
  std::vector<std::string> tokens;
  for (int i = 0; i < 100; ++i) {
    tokens.push_back(i == 0 ? a.token : i == 1 ? b.token : examiner);
    clients.push_back(std::make_unique<LiveClient>());
    ASSERT_TRUE(clients.back()->Connect(g2, tokens.back())) << i;
    clients.back()->Subscribe(room, 0);
  }
  // The invitation is A's alone; the group message everyone's.
  auto invite =
      s.Call("POST", "/v1/examiner/rooms/" + room + "/candidates/" + a.c.account_id + ":invite", "",
             Bearer(examiner));
  ASSERT_EQ(invite.status, 200) << invite.body;
  SendGroupMessage(examiner, room, 0);
  const size_t examiner_count = ServiceIds(examiner, room).size();
  ASSERT_TRUE(clients[0]->ReadEvents(ServiceIds(a.token, room).size()));
  ASSERT_TRUE(clients[1]->ReadEvents(ServiceIds(b.token, room).size()));
  for (int i = 2; i < 100; ++i) ASSERT_TRUE(clients[i]->ReadEvents(examiner_count)) << i;
  auto has = [](const LiveClient& c, const std::string& type) {
    return std::find(c.types().begin(), c.types().end(), type) != c.types().end();
  };
  EXPECT_TRUE(has(*clients[0], "INVITATION"));
  EXPECT_FALSE(has(*clients[1], "INVITATION")) << "B saw A's private invitation";
  EXPECT_TRUE(has(*clients[1], "GROUP_MESSAGE"));
  EXPECT_TRUE(has(*clients[2], "INVITATION"));

  // 2. Messages keep coming while that gateway stops; every client is told (1001) or cut.
  SendGroupMessage(examiner, room, 1);
  s.StopExtraGateways();
  for (auto& c : clients) {
    c->DrainUntilClosed(absl::Seconds(10));
    EXPECT_TRUE(c->closed());
  }
  for (int i = 2; i < 6; ++i) SendGroupMessage(examiner, room, i);

  // 3. Each reconnects to the other gateway with its last id and ends with exactly the
  // service's own list for its reader: nothing missing, nothing twice, in order.
  for (size_t i = 0; i < clients.size(); ++i) {
    int64_t after = clients[i]->last_id();
    clients[i]->Reset();
    ASSERT_TRUE(clients[i]->Connect(s.gateway_port(), tokens[i])) << i;
    clients[i]->Subscribe(room, after);
  }
  SendGroupMessage(examiner, room, 6);
  const std::vector<int64_t> want_a = ServiceIds(a.token, room);
  const std::vector<int64_t> want_b = ServiceIds(b.token, room);
  const std::vector<int64_t> want_examiner = ServiceIds(examiner, room);
  for (size_t i = 0; i < clients.size(); ++i) {
    const auto& want = i == 0 ? want_a : i == 1 ? want_b : want_examiner;
    ASSERT_TRUE(clients[i]->ReadEvents(want.size())) << i;
    EXPECT_EQ(clients[i]->ids(), want) << "client " << i;
  }
}

}  // namespace
}  // namespace admissions::testing
