#include "integration/room_world.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"

namespace admissions::testing {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string OperatorToken(Stack& s) {
  static std::string token;
  if (token.empty()) token = Login(s, "operator", "operator-dev-pass").first;
  EXPECT_FALSE(token.empty());
  return token;
}

std::string CreateStaff(Stack& s, const std::string& school, const std::string& role,
                        const std::string& by, std::string* id) {
  std::string login = "staff-" + HexEncode(RandomBytes(5));
  auto r = s.Call("POST", "/v1/admin/staff",
                  absl::StrCat(R"({"schoolId":")", school, R"(","role":")", role, R"(","login":")",
                               login, R"(","password":"staff-pass-1","name":"考官"})"),
                  Bearer(by));
  EXPECT_EQ(r.status, 201) << r.body;
  if (id != nullptr) *id = r.Str("accountId");
  return Login(s, login, "staff-pass-1").first;
}

namespace {

void CompleteJourney(Stack& s, const std::string& exam, const std::string& token) {
  auto n = s.Call("GET", "/v1/notice", "", Bearer(token));
  ASSERT_EQ(n.status, 200) << n.body;
  auto r =
      s.Call("POST", "/v1/notice:read", R"({"version":)" + n.Str("version") + "}", Bearer(token));
  ASSERT_EQ(r.status, 204) << r.body;
  r = s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(token));
  ASSERT_EQ(r.status, 204) << r.body;
  auto c = s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(token));
  ASSERT_EQ(c.status, 200) << c.body;
  r = s.Call("POST", "/v1/exams/" + exam + "/commitment:sign",
             R"({"version":)" + c.Str("version") + "}", Bearer(token));
  ASSERT_EQ(r.status, 204) << r.body;
}

}  // namespace

RoomWorld MakeRoomWorld(Stack& s, const RoomWorldOptions& options) {
  RoomWorld w;
  std::string op = OperatorToken(s);
  auto school =
      s.Call("POST", "/v1/admin/schools",
             absl::StrCat(R"({"code":"M)", HexEncode(RandomBytes(4)), R"(","name":"面试大学"})"),
             Bearer(op));
  EXPECT_EQ(school.status, 201) << school.body;
  w.school = school.Str("schoolId");
  auto exam = s.Call(
      "POST", "/v1/admin/exams",
      absl::StrCat(R"({"schoolId":")", w.school, R"(","title":"复试","mode":")",
                   options.dual_camera ? "DUAL_CAMERA" : "SINGLE_CAMERA",
                   R"(","screenShareAllowed":)", options.screen_share_allowed ? "true" : "false",
                   R"(,"commitmentText":"承诺"})"),
      Bearer(op));
  EXPECT_EQ(exam.status, 201) << exam.body;
  w.exam = exam.Str("examId");
  w.admin_token = CreateStaff(s, w.school, "SCHOOL_ADMIN", op);
  std::string csv = kRosterHeader;
  for (int i = 0; i < options.candidates; ++i) {
    w.candidates.push_back(VerifiedCandidate(s));
    absl::StrAppend(&csv, "张三,RESIDENT_ID,", w.candidates.back().c.id_number,
                    ",男,计算机,人工智能\n");
  }
  auto h = Bearer(w.admin_token);
  h["Content-Type"] = "text/csv";
  auto roster = s.Call("POST", "/v1/admin/exams/" + w.exam + "/roster", csv, h);
  EXPECT_EQ(roster.status, 200) << roster.body;
  for (const auto& c : w.candidates) CompleteJourney(s, w.exam, c.token);
  std::string ids;
  for (int i = 0; i < options.examiners; ++i) {
    std::string id;
    w.examiner_tokens.push_back(CreateStaff(s, w.school, "EXAMINER", w.admin_token, &id));
    w.examiner_ids.push_back(id);
    absl::StrAppend(&ids, ids.empty() ? "" : ",", "\"", id, "\"");
  }
  auto room = s.Call(
      "POST", "/v1/admin/exams/" + w.exam + "/rooms",
      absl::StrCat(R"({"name":"第一考场","startsAt":")", Rfc3339(absl::Now()), R"(","endsAt":")",
                   Rfc3339(absl::Now() + absl::Hours(3)), R"(","examinerIds":[)", ids, "]}"),
      Bearer(w.admin_token));
  EXPECT_EQ(room.status, 201) << room.body;
  w.room = room.Str("roomId");
  for (size_t i = 0; i < w.candidates.size(); ++i) {
    auto r = s.Call("POST", "/v1/admin/rooms/" + w.room + "/assignments",
                    absl::StrCat(R"({"idNumber":")", w.candidates[i].c.id_number,
                                 R"(","sequence":)", i + 1, "}"),
                    Bearer(w.admin_token));
    EXPECT_EQ(r.status, 201) << r.body;
  }
  return w;
}

void EnterRoom(Stack& s, const RoomWorld& w, const ReadyCandidate& c) {
  auto v = s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM","roomId":")" + w.room + "\"}",
                  Bearer(c.token));
  ASSERT_EQ(v.status, 201) << v.body;
  auto scan = s.Call("POST", "/v1/verifications:scan",
                     R"({"qrPayload":")" + v.Str("qrPayload") + "\"}", Bearer(c.token));
  ASSERT_EQ(scan.status, 200) << scan.body;
  auto done = s.Call("POST", "/v1/dev/verifications/" + v.Str("verificationId") + ":complete",
                     R"({"passed":true})");
  ASSERT_EQ(done.status, 200) << done.body;
  auto enter = s.Call("POST", "/v1/rooms/" + w.room + ":enter",
                      R"({"verificationId":")" + v.Str("verificationId") + "\"}", Bearer(c.token));
  ASSERT_EQ(enter.status, 200) << enter.body;
}

HttpResponse ExaminerAct(Stack& s, const RoomWorld& w, const ReadyCandidate& c,
                         const std::string& verb, int examiner) {
  return s.Call("POST",
                "/v1/examiner/rooms/" + w.room + "/candidates/" + c.c.account_id + ":" + verb, "",
                Bearer(w.examiner_tokens.at(examiner)));
}

std::string StartInterview(Stack& s, const RoomWorld& w, const ReadyCandidate& c, int examiner) {
  auto invite = ExaminerAct(s, w, c, "invite", examiner);
  EXPECT_EQ(invite.status, 200) << invite.body;
  auto accept = s.Call("POST", "/v1/rooms/" + w.room + "/invitation:accept", "", Bearer(c.token));
  EXPECT_EQ(accept.status, 200) << accept.body;
  return accept.Str("interviewId");
}

std::string SecondDeviceState(Stack& s, const RoomWorld& w, const std::string& account_id) {
  auto r = s.Call("GET", "/v1/examiner/rooms/" + w.room + "/candidates", "",
                  Bearer(w.examiner_tokens.at(0)));
  EXPECT_EQ(r.status, 200) << r.body;
  const auto* list = r.Find("candidates");
  if (list == nullptr) return "";
  for (const auto& c : list->list_value().values()) {
    const auto& f = c.struct_value().fields();
    auto id = f.find("accountId");
    auto device = f.find("secondDevice");
    if (id != f.end() && device != f.end() && id->second.string_value() == account_id) {
      return device->second.string_value();
    }
  }
  return "";
}

}  // namespace admissions::testing
