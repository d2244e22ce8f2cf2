// The waiting room through the gateway over real HTTP, with the real PostgreSQL and Redis
// that `make test` starts: rooms and assignments, entering (journey, fresh verification),
// the lobby, the interview's state machine and every fault issue 7 lists, the event stream
// (long poll, 10,000 behind, the internal Subscribe), presence, Redis lost mid-interview and
// the audit chain.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "integration/harness.h"
#include "waiting_room/room_rules.h"
#include "waiting_room/v1/waiting_room.grpc.pb.h"

namespace admissions::testing {
namespace {

const std::string kHeader = "name,idType,idNumber,gender,major,direction\n";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Unique() { return HexEncode(RandomBytes(4)); }

const google::protobuf::ListValue& List(const HttpResponse& r, const std::string& path) {
  static const google::protobuf::ListValue kEmpty;
  const auto* v = r.Find(path);
  return v == nullptr ? kEmpty : v->list_value();
}

std::string Field(const google::protobuf::Value& v, const std::string& name) {
  const auto& f = v.struct_value().fields();
  auto it = f.find(name);
  if (it == f.end()) return "";
  if (it->second.kind_case() == google::protobuf::Value::kNumberValue) {
    return std::to_string(static_cast<int64_t>(it->second.number_value()));
  }
  if (it->second.kind_case() == google::protobuf::Value::kBoolValue) {
    return it->second.bool_value() ? "true" : "false";
  }
  return it->second.string_value();
}

struct Person {
  ReadyCandidate rc;
  std::string token() const { return rc.token; }
  std::string id() const { return rc.c.account_id; }
};

class WaitingRoomHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();

  void SetUp() override {
    s.RedisDeleteMatching("rl:*");
    if (op_.empty()) op_ = Login(s, "operator", "operator-dev-pass").first;
    ASSERT_FALSE(op_.empty());
  }

  // An exam of a new school with `n` candidates who completed every step, two examiners,
  // the school's admin, three questions.
  struct World {
    std::string school, exam, admin;
    std::vector<Person> candidates;
    std::vector<std::string> examiners, examiner_ids;
    std::vector<std::string> questions;
  };

  std::string Staff(const std::string& school, const std::string& role, const std::string& by,
                    std::string* id = nullptr) {
    std::string login = "wr-" + Unique();
    auto r =
        s.Call("POST", "/v1/admin/staff",
               absl::StrCat(R"({"schoolId":")", school, R"(","role":")", role, R"(","login":")",
                            login, R"(","password":"staff-pass-1","name":"考官"})"),
               Bearer(by));
    EXPECT_EQ(r.status, 201) << r.body;
    if (id != nullptr) *id = r.Str("accountId");
    return Login(s, login, "staff-pass-1").first;
  }

  void CompleteJourney(const std::string& exam, const Person& p, bool sign = true) {
    auto n = s.Call("GET", "/v1/notice", "", Bearer(p.token()));
    ASSERT_EQ(n.status, 200) << n.body;
    auto r = s.Call("POST", "/v1/notice:read", R"({"version":)" + n.Str("version") + "}",
                    Bearer(p.token()));
    ASSERT_EQ(r.status, 204) << r.body;
    r = s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(p.token()));
    ASSERT_EQ(r.status, 204) << r.body;
    if (!sign) return;
    auto c = s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(p.token()));
    ASSERT_EQ(c.status, 200) << c.body;
    r = s.Call("POST", "/v1/exams/" + exam + "/commitment:sign",
               R"({"version":)" + c.Str("version") + "}", Bearer(p.token()));
    ASSERT_EQ(r.status, 204) << r.body;
  }

  World MakeWorld(int n, bool sign = true) {
    World w;
    auto school =
        s.Call("POST", "/v1/admin/schools",
               absl::StrCat(R"({"code":"W)", Unique(), R"(","name":"面试大学"})"), Bearer(op_));
    EXPECT_EQ(school.status, 201) << school.body;
    w.school = school.Str("schoolId");
    auto exam =
        s.Call("POST", "/v1/admin/exams",
               absl::StrCat(R"({"schoolId":")", w.school,
                            R"(","title":"复试","mode":"SINGLE_CAMERA","commitmentText":"承诺"})"),
               Bearer(op_));
    EXPECT_EQ(exam.status, 201) << exam.body;
    w.exam = exam.Str("examId");
    w.admin = Staff(w.school, "SCHOOL_ADMIN", op_);
    std::string csv = kHeader;
    for (int i = 0; i < n; ++i) {
      Person p{VerifiedCandidate(s)};
      absl::StrAppend(&csv, "张三,RESIDENT_ID,", p.rc.c.id_number, ",男,计算机,人工智能\n");
      w.candidates.push_back(std::move(p));
    }
    auto h = Bearer(w.admin);
    h["Content-Type"] = "text/csv";
    auto roster = s.Call("POST", "/v1/admin/exams/" + w.exam + "/roster", csv, h);
    EXPECT_EQ(roster.status, 200) << roster.body;
    for (const auto& p : w.candidates) CompleteJourney(w.exam, p, sign);
    for (int i = 0; i < 2; ++i) {
      std::string id;
      w.examiners.push_back(Staff(w.school, "EXAMINER", w.admin, &id));
      w.examiner_ids.push_back(id);
    }
    for (int i = 0; i < 3; ++i) {
      auto q = s.Call("POST", "/v1/admin/exams/" + w.exam + "/questions",
                      absl::StrCat(R"({"text":"问题 )", i + 1, R"("})"), Bearer(w.admin));
      EXPECT_EQ(q.status, 201) << q.body;
      w.questions.push_back(q.Str("questionId"));
    }
    return w;
  }

  std::string CreateRoom(const World& w, const std::vector<std::string>& examiners,
                         bool hide_wait = false) {
    std::string ids;
    for (const auto& e : examiners) absl::StrAppend(&ids, ids.empty() ? "" : ",", "\"", e, "\"");
    auto r = s.Call(
        "POST", "/v1/admin/exams/" + w.exam + "/rooms",
        absl::StrCat(R"({"name":"第一考场","startsAt":")", Rfc3339(absl::Now()), R"(","endsAt":")",
                     Rfc3339(absl::Now() + absl::Hours(3)), R"(","examinerIds":[)", ids,
                     R"(],"hideWaitEstimate":)", hide_wait ? "true" : "false", "}"),
        Bearer(w.admin));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Str("roomId");
  }

  HttpResponse Assign(const World& w, const std::string& room, const Person& p, int seq = 0) {
    return s.Call("POST", "/v1/admin/rooms/" + room + "/assignments",
                  absl::StrCat(R"({"idNumber":")", p.rc.c.id_number, R"(","sequence":)", seq, "}"),
                  Bearer(w.admin));
  }

  // A PASSED face verification of purpose ROOM for `room`, through the QR scan and the
  // development simulator.
  std::string RoomVerification(const Person& p, const std::string& room) {
    auto r = s.Call("POST", "/v1/verifications", R"({"purpose":"ROOM","roomId":")" + room + "\"}",
                    Bearer(p.token()));
    EXPECT_EQ(r.status, 201) << r.body;
    std::string id = r.Str("verificationId");
    auto scan = s.Call("POST", "/v1/verifications:scan",
                       R"({"qrPayload":")" + r.Str("qrPayload") + "\"}", Bearer(p.token()));
    EXPECT_EQ(scan.status, 200) << scan.body;
    auto done = s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":true})");
    EXPECT_EQ(done.status, 200) << done.body;
    return id;
  }

  HttpResponse Enter(const Person& p, const std::string& room, const std::string& verification) {
    return s.Call("POST", "/v1/rooms/" + room + ":enter",
                  R"({"verificationId":")" + verification + "\"}", Bearer(p.token()));
  }

  void EnterOk(const Person& p, const std::string& room) {
    auto r = Enter(p, room, RoomVerification(p, room));
    ASSERT_EQ(r.status, 200) << r.body;
  }

  HttpResponse Action(const std::string& examiner, const std::string& room, const Person& p,
                      const std::string& verb) {
    return s.Call("POST", "/v1/examiner/rooms/" + room + "/candidates/" + p.id() + ":" + verb, "",
                  Bearer(examiner));
  }

  HttpResponse Accept(const Person& p, const std::string& room) {
    return s.Call("POST", "/v1/rooms/" + room + "/invitation:accept", "", Bearer(p.token()));
  }

  HttpResponse Lobby(const Person& p, const std::string& room) {
    return s.Call("GET", "/v1/rooms/" + room + "/lobby", "", Bearer(p.token()));
  }

  HttpResponse Events(const std::string& token, const std::string& room, int64_t after,
                      int wait = 0, int limit = 0) {
    std::string q = absl::StrCat("/v1/rooms/", room, "/events?after=", after);
    if (wait > 0) absl::StrAppend(&q, "&waitSeconds=", wait);
    if (limit > 0) absl::StrAppend(&q, "&limit=", limit);
    return s.Call("GET", q, "", Bearer(token));
  }

  // Every event type the reader sees after `after`, in order.
  std::vector<std::string> Types(const std::string& token, const std::string& room,
                                 int64_t after = 0) {
    auto r = Events(token, room, after);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    for (const auto& e : List(r, "events").values()) out.push_back(Field(e, "type"));
    return out;
  }

  std::string JourneyStep(const Person& p, const std::string& exam, const std::string& step) {
    auto r = s.Call("GET", "/v1/exams/" + exam + "/journey", "", Bearer(p.token()));
    EXPECT_EQ(r.status, 200) << r.body;
    for (const auto& v : List(r, "steps").values()) {
      if (Field(v, "step") == step) return Field(v, "status");
    }
    return "";
  }

  static std::string op_;
};
std::string WaitingRoomHttpTest::op_;

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST_F(WaitingRoomHttpTest, AWholeSessionWithTwoExaminersAndFourCandidates) {
  World w = MakeWorld(4);
  std::string room = CreateRoom(w, w.examiner_ids);
  for (size_t i = 0; i < w.candidates.size(); ++i) {
    auto a = Assign(w, room, w.candidates[i]);
    ASSERT_EQ(a.status, 201) << a.body;
    EXPECT_EQ(a.Str("sequence"), std::to_string(i + 1));
    EXPECT_EQ(a.Str("status"), "NOT_ENTERED");
  }
  const Person &c1 = w.candidates[0], &c2 = w.candidates[1], &c3 = w.candidates[2],
               &c4 = w.candidates[3];
  const std::string &e1 = w.examiners[0], &e2 = w.examiners[1];

  // The room list shows the room, its times and the candidate's sequence.
  auto rooms = s.Call("GET", "/v1/exams/" + w.exam + "/rooms", "", Bearer(c3.token()));
  ASSERT_EQ(rooms.status, 200) << rooms.body;
  ASSERT_EQ(List(rooms, "rooms").values_size(), 1) << rooms.body;
  EXPECT_EQ(Field(List(rooms, "rooms").values(0), "sequence"), "3");
  EXPECT_EQ(JourneyStep(c1, w.exam, "ROOM"), "TODO");

  for (const auto& c : w.candidates) EnterOk(c, room);
  // Entering again is idempotent and needs no new verification.
  auto again = Enter(c1, room, "");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.Str("me.status"), "WAITING");

  // The lobby: own name and sequence, everyone else by sequence only, nobody interviewed.
  auto lobby = Lobby(c3, room);
  ASSERT_EQ(lobby.status, 200) << lobby.body;
  EXPECT_EQ(lobby.Str("roomName"), "第一考场");
  EXPECT_EQ(lobby.Str("me.name"), "张三");
  EXPECT_EQ(lobby.Str("me.sequence"), "3");
  EXPECT_EQ(lobby.Find("currentSequence"), nullptr) << lobby.body;
  EXPECT_EQ(lobby.Find("estimatedWaitSeconds"), nullptr) << lobby.body;
  ASSERT_EQ(List(lobby, "queue").values_size(), 4);
  for (const auto& q : List(lobby, "queue").values()) {
    EXPECT_EQ(q.struct_value().fields().size(), 2u) << lobby.body;  // sequence, status only.
  }
  EXPECT_EQ(lobby.body.find(c1.id()), std::string::npos) << lobby.body;

  auto list = s.Call("GET", "/v1/examiner/rooms", "", Bearer(e2));
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(Field(List(list, "rooms").values(0), "roomId"), room);
  auto cands = s.Call("GET", "/v1/examiner/rooms/" + room + "/candidates", "", Bearer(e1));
  ASSERT_EQ(cands.status, 200) << cands.body;
  ASSERT_EQ(List(cands, "candidates").values_size(), 4);
  const auto& first = List(cands, "candidates").values(0);
  EXPECT_EQ(Field(first, "accountId"), c1.id());
  EXPECT_EQ(Field(first, "name"), "张三");
  EXPECT_EQ(Field(first, "status"), "WAITING");
  EXPECT_EQ(Field(first, "online"), "true");
  EXPECT_EQ(Field(first, "materialsStatus"), "NOT_REQUIRED");
  EXPECT_EQ(Field(first, "secondDevice"), "NONE");
  EXPECT_NE(Field(first, "idNumberMasked").find("*"), std::string::npos);

  // Invite c1: c1 is told, c2 (next in line) gets a heads-up, c3 neither.
  auto inv = Action(e1, room, c1, "invite");
  ASSERT_EQ(inv.status, 200) << inv.body;
  EXPECT_EQ(inv.Str("status"), "INVITED");
  EXPECT_TRUE(Has(Types(c1.token(), room), "INVITATION"));
  EXPECT_TRUE(Has(Types(c2.token(), room), "HEADS_UP"));
  EXPECT_FALSE(Has(Types(c3.token(), room), "HEADS_UP"));
  EXPECT_FALSE(Has(Types(c3.token(), room), "INVITATION"));

  auto acc = Accept(c1, room);
  ASSERT_EQ(acc.status, 200) << acc.body;
  EXPECT_EQ(acc.Str("interviewId"), inv.Str("interviewId"));
  EXPECT_EQ(Lobby(c4, room).Str("currentSequence"), "1");

  // Questions: one chosen, two drawn (never a repeat), then the bank is exhausted.
  auto base = "/v1/examiner/rooms/" + room + "/candidates/" + c1.id() + "/questions";
  auto q1 = s.Call("POST", base, R"({"questionId":")" + w.questions[1] + "\"}", Bearer(e2));
  ASSERT_EQ(q1.status, 201) << q1.body;
  EXPECT_EQ(q1.Str("text"), "问题 2");
  auto same = s.Call("POST", base, R"({"questionId":")" + w.questions[1] + "\"}", Bearer(e1));
  ExpectError(same, 409, "QUESTION_ALREADY_SENT");
  std::set<std::string> sent = {w.questions[1]};
  for (int i = 0; i < 2; ++i) {
    auto d = s.Call("POST", base, R"({"draw":true})", Bearer(e1));
    ASSERT_EQ(d.status, 201) << d.body;
    EXPECT_FALSE(d.Str("seed").empty());
    EXPECT_TRUE(sent.insert(d.Str("questionId")).second) << "repeated " << d.body;
  }
  ExpectError(s.Call("POST", base, R"({"draw":true})", Bearer(e1)), 409, "QUESTION_BANK_EXHAUSTED");
  ExpectError(s.Call("POST", base, R"({"draw":true,"questionId":"x"})", Bearer(e1)), 400,
              "INVALID_ARGUMENT", "questionId");
  auto qs = s.Call("GET", "/v1/rooms/" + room + "/questions", "", Bearer(c1.token()));
  ASSERT_EQ(qs.status, 200) << qs.body;
  EXPECT_EQ(List(qs, "questions").values_size(), 3);
  EXPECT_EQ(
      List(s.Call("GET", "/v1/rooms/" + room + "/questions", "", Bearer(c2.token())), "questions")
          .values_size(),
      0);
  EXPECT_TRUE(Has(Types(c1.token(), room), "QUESTION_SENT"));

  // Defer c1 (back in the lobby), interview c2 to the end.
  auto def = Action(e2, room, c1, "defer");
  ASSERT_EQ(def.status, 200) << def.body;
  EXPECT_EQ(def.Str("status"), "DEFERRED");
  EXPECT_EQ(Lobby(c4, room).Find("currentSequence"), nullptr);
  ASSERT_EQ(Action(e1, room, c2, "invite").status, 200);
  ASSERT_EQ(Accept(c2, room).status, 200);
  absl::SleepFor(absl::Milliseconds(1100));  // A measurable interview length.
  auto end = Action(e1, room, c2, "end");
  ASSERT_EQ(end.status, 200) << end.body;
  EXPECT_EQ(end.Str("status"), "FINISHED");
  EXPECT_TRUE(Has(Types(c2.token(), room), "INTERVIEW_ENDED"));
  ASSERT_EQ(s.Call("POST", "/v1/rooms/" + room + ":leave", "", Bearer(c2.token())).status, 204);
  ExpectError(Enter(c2, room, RoomVerification(c2, room)), 409, "INTERVIEW_FINISHED");
  EXPECT_EQ(JourneyStep(c2, w.exam, "ROOM"), "DONE");
  EXPECT_EQ(JourneyStep(c1, w.exam, "ROOM"), "TODO");

  // c2 is gone from the lobby; the wait estimate now exists (one interview finished).
  auto l4 = Lobby(c4, room);
  ASSERT_EQ(l4.status, 200) << l4.body;
  for (const auto& q : List(l4, "queue").values()) EXPECT_NE(Field(q, "sequence"), "2");
  ASSERT_NE(l4.Find("estimatedWaitSeconds"), nullptr) << l4.body;
  EXPECT_GE(std::stoi(l4.Str("estimatedWaitSeconds")), 1) << l4.body;

  // Re-invite the deferred c1, interview, end.
  ASSERT_EQ(Action(e2, room, c1, "invite").status, 200);
  ASSERT_EQ(Accept(c1, room).status, 200);
  ASSERT_EQ(Action(e2, room, c1, "end").status, 200);
  EXPECT_EQ(JourneyStep(c1, w.exam, "ROOM"), "DONE");

  // Messages: the group sees a group message, only the addressee a private one.
  auto gm = s.Call("POST", "/v1/examiner/rooms/" + room + "/messages", R"({"text":"请准备"})",
                   Bearer(e1));
  ASSERT_EQ(gm.status, 201) << gm.body;
  auto pm = s.Call("POST", "/v1/examiner/rooms/" + room + "/messages",
                   R"({"text":"请调整摄像头","toAccountId":")" + c3.id() + "\"}", Bearer(e1));
  ASSERT_EQ(pm.status, 201) << pm.body;
  EXPECT_TRUE(Has(Types(c4.token(), room), "GROUP_MESSAGE"));
  EXPECT_FALSE(Has(Types(c4.token(), room), "PRIVATE_MESSAGE"));
  EXPECT_TRUE(Has(Types(c3.token(), room), "PRIVATE_MESSAGE"));
  ExpectError(
      s.Call("POST", "/v1/examiner/rooms/" + room + "/messages", R"({"text":"  "})", Bearer(e1)),
      400, "INVALID_ARGUMENT", "text");

  // Proctoring: recorded with time, seen by examiners as a timeline, never by candidates.
  auto pe = s.Call("POST", "/v1/rooms/" + room + "/proctor-events", R"({"type":"FULLSCREEN_EXIT"})",
                   Bearer(c3.token()));
  ASSERT_EQ(pe.status, 204) << pe.body;
  ExpectError(s.Call("POST", "/v1/rooms/" + room + "/proctor-events",
                     R"({"type":"SECOND_DEVICE_LOST"})", Bearer(c3.token())),
              400, "INVALID_ARGUMENT", "type");
  auto tl =
      s.Call("GET", "/v1/examiner/rooms/" + room + "/candidates/" + c3.id() + "/proctor-events", "",
             Bearer(e2));
  ASSERT_EQ(tl.status, 200) << tl.body;
  ASSERT_EQ(List(tl, "events").values_size(), 1);
  EXPECT_EQ(Field(List(tl, "events").values(0), "type"), "FULLSCREEN_EXIT");
  EXPECT_TRUE(Has(Types(e1, room), "PROCTOR_EVENT"));
  EXPECT_FALSE(Has(Types(c3.token(), room), "PROCTOR_EVENT"));

  // Mark absent: c4 waits, is marked absent, cannot come back.
  ASSERT_EQ(Action(e1, room, c4, "absent").status, 200);
  ExpectError(Enter(c4, room, ""), 409, "MARKED_ABSENT");

  // The audit: one line per action, chained, and append-only in PostgreSQL.
  auto audit = s.Call("GET", "/v1/admin/rooms/" + room + "/audit", "", Bearer(w.admin));
  ASSERT_EQ(audit.status, 200) << audit.body;
  std::vector<waiting_room::AuditEntry> entries;
  for (absl::string_view line : absl::StrSplit(audit.body, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct st;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(std::string(line.data(), line.size()), &st)
            .ok())
        << line;
    const auto& f = st.fields();
    waiting_room::AuditEntry e;
    e.seq = static_cast<int64_t>(f.at("seq").number_value());
    e.at = f.at("at").string_value();
    e.actor = f.at("actor").string_value();
    e.action = f.at("action").string_value();
    e.subject = f.at("subject").string_value();
    e.detail = f.at("detail").string_value();
    e.prev_hash = f.at("prevHash").string_value();
    e.hash = f.at("hash").string_value();
    entries.push_back(std::move(e));
  }
  ASSERT_GE(entries.size(), 20u) << audit.body;
  EXPECT_TRUE(waiting_room::VerifyAuditChain(entries).ok());
  std::set<std::string> actions;
  for (const auto& e : entries) actions.insert(e.action);
  for (const char* a : {"ROOM_CREATED", "ASSIGNED", "ENTER", "INVITE", "ACCEPT", "QUESTION_SENT",
                        "QUESTION_DRAWN", "DEFER", "END", "LEAVE", "GROUP_MESSAGE",
                        "PRIVATE_MESSAGE", "PROCTOR_EVENT", "MARK_ABSENT"}) {
    EXPECT_TRUE(actions.count(a)) << a;
  }
  auto tampered = entries;
  tampered[3].detail += "x";
  EXPECT_FALSE(waiting_room::VerifyAuditChain(tampered).ok());
  EXPECT_ANY_THROW(
      s.Sql("UPDATE waiting_room.audit_log SET detail = 'x' WHERE room_id = '" + room + "'"));
  EXPECT_ANY_THROW(s.Sql("DELETE FROM waiting_room.audit_log WHERE room_id = '" + room + "'"));
  ExpectError(s.Call("GET", "/v1/admin/rooms/" + room + "/audit", "", Bearer(e1)), 403,
              "PERMISSION_DENIED");
}

TEST_F(WaitingRoomHttpTest, TwoExaminersInvitingAtTheSameInstantOneWinsTheOtherConflicts) {
  World w = MakeWorld(2);
  std::string room = CreateRoom(w, w.examiner_ids);
  for (const auto& c : w.candidates) ASSERT_EQ(Assign(w, room, c).status, 201);
  for (const auto& c : w.candidates) EnterOk(c, room);
  for (int round = 0; round < 5; ++round) {
    HttpResponse r1, r2;
    std::atomic<int> ready{0};
    auto together = [&ready] {
      ++ready;
      while (ready.load() < 2) {
      }
    };
    std::thread t1([&] {
      together();
      r1 = Action(w.examiners[0], room, w.candidates[0], "invite");
    });
    std::thread t2([&] {
      together();
      r2 = Action(w.examiners[1], room, w.candidates[1], "invite");
    });
    t1.join();
    t2.join();
    ASSERT_TRUE((r1.status == 200) != (r2.status == 200)) << r1.body << " / " << r2.body;
    const HttpResponse& lost = r1.status == 200 ? r2 : r1;
    ExpectError(lost, 409, "ROOM_BUSY");
    // The winner is deferred; the room is free again.
    const Person& winner = r1.status == 200 ? w.candidates[0] : w.candidates[1];
    ASSERT_EQ(Action(w.examiners[0], room, winner, "defer").status, 200);
  }
  int invited = SqlInt(s, "SELECT count(*) FROM waiting_room.assignments WHERE room_id = '" + room +
                              "' AND status IN ('INVITED', 'INTERVIEWING')");
  EXPECT_EQ(invited, 0);
}

TEST_F(WaitingRoomHttpTest, IllegalTransitionsAreRefusedWithAClearReason) {
  World w = MakeWorld(2);
  std::string room = CreateRoom(w, w.examiner_ids);
  for (const auto& c : w.candidates) ASSERT_EQ(Assign(w, room, c).status, 201);
  const Person &c1 = w.candidates[0], &c2 = w.candidates[1];
  const std::string& e = w.examiners[0];

  // Unknown to the room until the candidate's account is bound (their first look).
  ExpectError(Action(e, room, c1, "invite"), 404, "CANDIDATE_NOT_FOUND");
  ASSERT_EQ(s.Call("GET", "/v1/exams/" + w.exam + "/rooms", "", Bearer(c1.token())).status, 200);
  ExpectError(Action(e, room, c1, "invite"), 409, "NOT_IN_LOBBY");
  EnterOk(c1, room);
  EnterOk(c2, room);
  ExpectError(Accept(c1, room), 409, "NO_INVITATION");
  ExpectError(Action(e, room, c1, "end"), 409, "NOT_INTERVIEWING");
  ExpectError(Action(e, room, c1, "defer"), 409, "NOT_INVITED");

  // A candidate accepting twice.
  ASSERT_EQ(Action(e, room, c1, "invite").status, 200);
  ExpectError(Action(e, room, c1, "invite"), 409, "ALREADY_INVITED");
  ExpectError(Action(e, room, c1, "end"), 409, "NOT_INTERVIEWING");
  ASSERT_EQ(Accept(c1, room).status, 200);
  ExpectError(Accept(c1, room), 409, "ALREADY_ACCEPTED");
  ExpectError(Action(e, room, c1, "absent"), 409, "IN_INTERVIEW");
  ExpectError(s.Call("POST", "/v1/rooms/" + room + ":leave", "", Bearer(c1.token())), 409,
              "IN_INTERVIEW");
  // Two candidates interviewed at once in one room.
  ExpectError(Action(e, room, c2, "invite"), 409, "ROOM_BUSY");

  // A deferred candidate accepting the stale invitation.
  ASSERT_EQ(Action(e, room, c1, "defer").status, 200);
  ExpectError(Accept(c1, room), 409, "NO_INVITATION");
  EXPECT_TRUE(Has(Types(c1.token(), room), "DEFERRED"));
  // Deferred while only invited: the invitation is withdrawn.
  ASSERT_EQ(Action(e, room, c2, "invite").status, 200);
  ASSERT_EQ(Action(e, room, c2, "defer").status, 200);
  EXPECT_TRUE(Has(Types(c2.token(), room), "INVITATION_WITHDRAWN"));
  ExpectError(Accept(c2, room), 409, "NO_INVITATION");
  // Invitable again.
  ASSERT_EQ(Action(e, room, c2, "invite").status, 200);
  ASSERT_EQ(Accept(c2, room).status, 200);

  // Candidates cannot act as examiners; unknown candidates and rooms are 404.
  ExpectError(Action(c1.token(), room, c2, "end"), 403, "PERMISSION_DENIED");
  auto unknown = s.Call(
      "POST",
      "/v1/examiner/rooms/" + room + "/candidates/" + "00000000-0000-4000-8000-000000000000:invite",
      "", Bearer(e));
  ExpectError(unknown, 404, "CANDIDATE_NOT_FOUND");
  ExpectError(
      s.Call("GET", "/v1/rooms/00000000-0000-4000-8000-000000000000/lobby", "", Bearer(c1.token())),
      404, "ROOM_NOT_FOUND");
}

TEST_F(WaitingRoomHttpTest, EnteringNeedsAFreshVerificationOfYourOwnAndACompleteJourney) {
  World w = MakeWorld(2);
  std::string room = CreateRoom(w, w.examiner_ids);
  std::string other_room = CreateRoom(w, w.examiner_ids);
  ASSERT_EQ(Assign(w, room, w.candidates[0]).status, 201);
  ASSERT_EQ(Assign(w, room, w.candidates[1]).status, 201);
  const Person &c1 = w.candidates[0], &c2 = w.candidates[1];

  auto missing = Enter(c1, room, "");
  ExpectError(missing, 403, "VERIFICATION_REQUIRED", "verificationId");
  // Someone else's verification for this very room.
  std::string theirs = RoomVerification(c2, room);
  auto r = Enter(c1, room, theirs);
  ExpectError(r, 403, "VERIFICATION_REQUIRED", "verificationId");
  EXPECT_EQ(r.Str("error.details.problem"), "NOT_VALID_FOR_YOU_OR_ROOM") << r.body;
  // One of another room.
  ExpectError(Enter(c1, room, RoomVerification(c1, other_room)), 403, "VERIFICATION_REQUIRED");
  // An old one: passed 10 minutes ago (the limit is 5).
  std::string old = RoomVerification(c1, room);
  s.Sql(
      "UPDATE identity.verifications SET finished_at = now() - interval '10 minutes' "
      "WHERE id = '" +
      old + "'");
  r = Enter(c1, room, old);
  ExpectError(r, 403, "VERIFICATION_REQUIRED", "verificationId");
  EXPECT_EQ(r.Str("error.details.problem"), "EXPIRED") << r.body;
  ExpectError(Enter(c1, room, "not-a-uuid"), 400, "INVALID_ARGUMENT", "verificationId");
  // Their own, fresh: in.
  ASSERT_EQ(Enter(c1, room, RoomVerification(c1, room)).status, 200);
  ASSERT_EQ(Enter(c2, room, theirs).status, 200);

  // A journey not complete (commitment not signed).
  World u = MakeWorld(1, /*sign=*/false);
  std::string room2 = CreateRoom(u, u.examiner_ids);
  ASSERT_EQ(Assign(u, room2, u.candidates[0]).status, 201);
  auto inc = Enter(u.candidates[0], room2, RoomVerification(u.candidates[0], room2));
  ExpectError(inc, 409, "JOURNEY_INCOMPLETE");
  EXPECT_EQ(inc.Str("error.details.step"), "COMMITMENT") << inc.body;
  // Not assigned to the room.
  ExpectError(Enter(c1, room2, RoomVerification(c1, room2)), 403, "NOT_ASSIGNED");
}

TEST_F(WaitingRoomHttpTest, AnExaminerOfRoomAActingInRoomBIsRefused) {
  World w = MakeWorld(2);
  std::string room_a = CreateRoom(w, {w.examiner_ids[0]});
  std::string room_b = CreateRoom(w, {w.examiner_ids[1]});
  ASSERT_EQ(Assign(w, room_a, w.candidates[0]).status, 201);
  ASSERT_EQ(Assign(w, room_b, w.candidates[1]).status, 201);
  EnterOk(w.candidates[1], room_b);
  const std::string& examiner_a = w.examiners[0];
  ExpectError(Action(examiner_a, room_b, w.candidates[1], "invite"), 403, "NOT_ROOM_EXAMINER");
  ExpectError(s.Call("GET", "/v1/examiner/rooms/" + room_b + "/candidates", "", Bearer(examiner_a)),
              403, "NOT_ROOM_EXAMINER");
  ExpectError(s.Call("POST", "/v1/examiner/rooms/" + room_b + "/messages", R"({"text":"hi"})",
                     Bearer(examiner_a)),
              403, "NOT_ROOM_EXAMINER");
  ExpectError(Events(examiner_a, room_b, 0), 403, "NOT_ROOM_EXAMINER");
  // A candidate of room B reads nothing of room A.
  ExpectError(Events(w.candidates[1].token(), room_a, 0), 403, "NOT_ASSIGNED");
  // The examiner of B does it.
  ASSERT_EQ(Action(w.examiners[1], room_b, w.candidates[1], "invite").status, 200);
  // A candidate of the exam is in one room only.
  ExpectError(Assign(w, room_b, w.candidates[0]), 409, "ALREADY_ASSIGNED");
}

TEST_F(WaitingRoomHttpTest, AnExaminerOfAnotherSchoolListedOnTheRoomIsRefused) {
  World w = MakeWorld(1);
  World other = MakeWorld(0);
  // The admin lists, by mistake, an examiner of another school on this room.
  std::string room = CreateRoom(w, {w.examiner_ids[0], other.examiner_ids[0]});
  ASSERT_EQ(Assign(w, room, w.candidates[0]).status, 201);
  EnterOk(w.candidates[0], room);
  ExpectError(Action(other.examiners[0], room, w.candidates[0], "invite"), 403,
              "NOT_ROOM_EXAMINER");
  ExpectError(Events(other.examiners[0], room, 0), 403, "NOT_ROOM_EXAMINER");
  EXPECT_EQ(Action(w.examiners[0], room, w.candidates[0], "invite").status, 200);
}

TEST_F(WaitingRoomHttpTest, RedisFlushedMidInterviewTheLobbyComesBackIdentical) {
  World w = MakeWorld(3);
  std::string room = CreateRoom(w, w.examiner_ids);
  for (const auto& c : w.candidates) ASSERT_EQ(Assign(w, room, c).status, 201);
  for (const auto& c : w.candidates) EnterOk(c, room);
  const std::string& e = w.examiners[0];
  ASSERT_EQ(Action(e, room, w.candidates[0], "invite").status, 200);
  ASSERT_EQ(Accept(w.candidates[0], room).status, 200);
  // Presence settles first (the harness's TTL is 4 s), so that nothing changes but Redis.
  absl::SleepFor(absl::Seconds(5));
  auto lobby_before = Lobby(w.candidates[1], room);
  auto list_before = s.Call("GET", "/v1/examiner/rooms/" + room + "/candidates", "", Bearer(e));
  ASSERT_EQ(lobby_before.status, 200) << lobby_before.body;
  ASSERT_EQ(list_before.status, 200) << list_before.body;
  EXPECT_EQ(lobby_before.Str("currentSequence"), "1");

  s.RedisFlushAll();

  auto lobby_after = Lobby(w.candidates[1], room);
  auto list_after = s.Call("GET", "/v1/examiner/rooms/" + room + "/candidates", "", Bearer(e));
  EXPECT_EQ(lobby_after.body, lobby_before.body);
  EXPECT_EQ(list_after.body, list_before.body);
  // The interview goes on.
  auto end = Action(e, room, w.candidates[0], "end");
  ASSERT_EQ(end.status, 200) << end.body;
  EXPECT_EQ(Lobby(w.candidates[2], room).Find("currentSequence"), nullptr);
}

TEST_F(WaitingRoomHttpTest, AClientTenThousandEventsBehindReadsEverythingInOrderOnce) {
  World w = MakeWorld(1);
  std::string room = CreateRoom(w, w.examiner_ids);
  ASSERT_EQ(Assign(w, room, w.candidates[0]).status, 201);
  EnterOk(w.candidates[0], room);
  int64_t start = std::stoll(Lobby(w.candidates[0], room).Str("lastEventId"));
  constexpr int kMessages = 10000;
  constexpr int kThreads = 8;
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string& examiner = w.examiners[t % 2];
      for (int i = next++; i < kMessages; i = next++) {
        auto r = s.Call("POST", "/v1/examiner/rooms/" + room + "/messages",
                        absl::StrCat(R"({"text":"m-)", i, R"("})"), Bearer(examiner));
        if (r.status != 201) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  for (const std::string& token : {w.candidates[0].token(), w.examiners[0]}) {
    std::set<std::string> texts;
    int64_t after = start, previous = start;
    int pages = 0, messages = 0;
    for (;;) {
      auto r = Events(token, room, after);
      ASSERT_EQ(r.status, 200) << r.body;
      const auto& events = List(r, "events");
      ASSERT_LE(events.values_size(), 500);
      if (events.values_size() == 0) break;
      ++pages;
      for (const auto& e : events.values()) {
        int64_t id = std::stoll(Field(e, "id"));
        ASSERT_GT(id, previous);
        previous = id;
        if (Field(e, "type") == "GROUP_MESSAGE") {
          ++messages;
          EXPECT_TRUE(texts.insert(Field(e, "text")).second) << "twice: " << Field(e, "text");
        }
      }
      after = std::stoll(r.Str("lastEventId"));
      ASSERT_GE(after, previous);  // Past events this reader may not see, never before.
    }
    EXPECT_EQ(messages, kMessages);
    EXPECT_EQ(texts.size(), static_cast<size_t>(kMessages));
    EXPECT_GE(pages, kMessages / 500);
  }
  // Gap-free ids in PostgreSQL.
  EXPECT_EQ(SqlInt(s, "SELECT max(id) - count(*) FROM waiting_room.room_events WHERE room_id = '" +
                          room + "'"),
            0);
}

TEST_F(WaitingRoomHttpTest, ALongPollWakesOnTheNextEventAndAnswersEmptyAfterItsWait) {
  World w = MakeWorld(1);
  std::string room = CreateRoom(w, w.examiner_ids);
  ASSERT_EQ(Assign(w, room, w.candidates[0]).status, 201);
  EnterOk(w.candidates[0], room);
  int64_t last = std::stoll(Lobby(w.candidates[0], room).Str("lastEventId"));
  // Nothing new: the wait runs out with no events and the same last id.
  absl::Time t0 = absl::Now();
  auto empty = Events(w.candidates[0].token(), room, last, 1);
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(List(empty, "events").values_size(), 0);
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(900));
  // An examiners-only event does not end a candidate's wait early; a group message does.
  std::thread sender([&] {
    absl::SleepFor(absl::Milliseconds(500));
    s.Call("POST", "/v1/rooms/" + room + "/proctor-events", R"({"type":"PAGE_HIDDEN"})",
           Bearer(w.candidates[0].token()));
    absl::SleepFor(absl::Milliseconds(300));
    s.Call("POST", "/v1/examiner/rooms/" + room + "/messages", R"({"text":"开始"})",
           Bearer(w.examiners[0]));
  });
  t0 = absl::Now();
  auto woke = Events(w.candidates[0].token(), room, last, 20);
  sender.join();
  ASSERT_EQ(woke.status, 200) << woke.body;
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  ASSERT_EQ(List(woke, "events").values_size(), 1) << woke.body;
  EXPECT_EQ(Field(List(woke, "events").values(0), "type"), "GROUP_MESSAGE");
  ExpectError(Events(w.candidates[0].token(), room, -1), 400, "INVALID_ARGUMENT", "after");
}

TEST_F(WaitingRoomHttpTest, ADroppedCandidateGoesOfflineKeepsTheirPlaceAndComesBack) {
  World w = MakeWorld(2);
  std::string room = CreateRoom(w, w.examiner_ids);
  for (const auto& c : w.candidates) ASSERT_EQ(Assign(w, room, c).status, 201);
  for (const auto& c : w.candidates) EnterOk(c, room);
  const std::string& e = w.examiners[0];
  auto online_of = [&](const Person& p) {
    auto r = s.Call("GET", "/v1/examiner/rooms/" + room + "/candidates", "", Bearer(e));
    for (const auto& c : List(r, "candidates").values()) {
      if (Field(c, "accountId") == p.id()) return Field(c, "online");
    }
    return std::string();
  };
  EXPECT_EQ(online_of(w.candidates[0]), "true");
  ASSERT_TRUE(PollUntil(10, [&] { return online_of(w.candidates[0]) == "false"; }));
  ASSERT_TRUE(PollUntil(5, [&] { return Has(Types(e, room), "CANDIDATE_OFFLINE"); }));
  auto back = Lobby(w.candidates[0], room);
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(back.Str("me.sequence"), "1");
  EXPECT_EQ(back.Str("me.status"), "WAITING");
  EXPECT_EQ(online_of(w.candidates[0]), "true");
  std::string last_of_c1;
  auto all = Events(e, room, 0);
  for (const auto& ev : List(all, "events").values()) {
    if (Field(ev, "accountId") == w.candidates[0].id()) last_of_c1 = Field(ev, "type");
  }
  EXPECT_EQ(last_of_c1, "CANDIDATE_ONLINE");
  // Candidates never see presence events.
  EXPECT_FALSE(Has(Types(w.candidates[1].token(), room), "CANDIDATE_OFFLINE"));
}

TEST_F(WaitingRoomHttpTest, AssignmentsAndDrawsAreCheckedAndReproducible) {
  World w = MakeWorld(4);
  std::string room = CreateRoom(w, w.examiner_ids);
  ASSERT_EQ(Assign(w, room, w.candidates[0], 7).status, 201);
  ExpectError(Assign(w, room, w.candidates[1], 7), 409, "SEQUENCE_TAKEN", "sequence");
  ASSERT_EQ(Assign(w, room, w.candidates[1]).status, 201);
  ASSERT_EQ(Assign(w, room, w.candidates[2]).status, 201);
  ASSERT_EQ(Assign(w, room, w.candidates[3]).status, 201);
  auto not_on = s.Call("POST", "/v1/admin/rooms/" + room + "/assignments",
                       R"({"idNumber":")" + NewResidentId() + "\"}", Bearer(w.admin));
  ExpectError(not_on, 404, "NOT_ON_ROSTER");
  ExpectError(s.Call("POST", "/v1/admin/rooms/" + room + "/assignments", R"({"idNumber":"123"})",
                     Bearer(w.admin)),
              400, "INVALID_ARGUMENT", "idNumber");
  ExpectError(Assign(w, room, w.candidates[0]), 409, "ALREADY_ASSIGNED");

  auto order = [&](const HttpResponse& r) {
    std::vector<std::string> v;
    for (const auto& a : List(r, "assignments").values()) {
      v.push_back(Field(a, "idNumberMasked") + "#" + Field(a, "sequence"));
    }
    return v;
  };
  auto d1 = s.Call("POST", "/v1/admin/rooms/" + room + "/assignments:draw", R"({"seed":"s-1"})",
                   Bearer(w.admin));
  ASSERT_EQ(d1.status, 200) << d1.body;
  EXPECT_EQ(d1.Str("seed"), "s-1");
  auto fresh =
      s.Call("POST", "/v1/admin/rooms/" + room + "/assignments:draw", "{}", Bearer(w.admin));
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(fresh.Str("seed").size(), 32u);
  auto d2 = s.Call("POST", "/v1/admin/rooms/" + room + "/assignments:draw", R"({"seed":"s-1"})",
                   Bearer(w.admin));
  EXPECT_EQ(order(d1), order(d2));  // Same seed, same order, whatever came before.
  auto listed = s.Call("GET", "/v1/admin/rooms/" + room + "/assignments", "", Bearer(w.admin));
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(List(listed, "assignments").values_size(), 4);
  auto audit = s.Call("GET", "/v1/admin/rooms/" + room + "/audit", "", Bearer(w.admin));
  EXPECT_NE(audit.body.find("seed=s-1"), std::string::npos);
  // Once someone entered, the order stands.
  EnterOk(w.candidates[0], room);
  ExpectError(
      s.Call("POST", "/v1/admin/rooms/" + room + "/assignments:draw", "{}", Bearer(w.admin)), 409,
      "ROOM_STARTED");

  // Bad rooms.
  auto bad = s.Call("POST", "/v1/admin/exams/" + w.exam + "/rooms",
                    absl::StrCat(R"({"name":"x","startsAt":")", Rfc3339(absl::Now()),
                                 R"(","endsAt":")", Rfc3339(absl::Now() - absl::Hours(1)), R"("})"),
                    Bearer(w.admin));
  ExpectError(bad, 400, "INVALID_ARGUMENT", "endsAt");
  auto other_admin = MakeWorld(0).admin;
  auto foreign =
      s.Call("POST", "/v1/admin/exams/" + w.exam + "/rooms",
             absl::StrCat(R"({"name":"x","startsAt":")", Rfc3339(absl::Now()), R"(","endsAt":")",
                          Rfc3339(absl::Now() + absl::Hours(1)), R"("})"),
             Bearer(other_admin));
  ExpectError(foreign, 403, "PERMISSION_DENIED");
}

TEST_F(WaitingRoomHttpTest, SubscribeSendsTheBacklogThenLiveEventsInOrder) {
  World w = MakeWorld(1);
  std::string room = CreateRoom(w, w.examiner_ids);
  ASSERT_EQ(Assign(w, room, w.candidates[0]).status, 201);
  EnterOk(w.candidates[0], room);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(s.Call("POST", "/v1/examiner/rooms/" + room + "/messages",
                     absl::StrCat(R"({"text":"b-)", i, R"("})"), Bearer(w.examiners[0]))
                  .status,
              201);
  }
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(s.waiting_room_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = waiting_room::v1::WaitingRoom::NewStub(channel);

  // AuthorizeSubscription: the forwarded token says who reads and how.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + w.candidates[0].token());
    waiting_room::v1::AuthorizeSubscriptionRequest req;
    req.set_room_id(room);
    waiting_room::v1::Subscription sub;
    ASSERT_TRUE(stub->AuthorizeSubscription(&ctx, req, &sub).ok());
    EXPECT_EQ(sub.account_id(), w.candidates[0].id());
    EXPECT_FALSE(sub.examiner());
    grpc::ClientContext ctx2;
    ctx2.AddMetadata("authorization", "Bearer " + w.examiners[1]);
    ASSERT_TRUE(stub->AuthorizeSubscription(&ctx2, req, &sub).ok());
    EXPECT_TRUE(sub.examiner());
  }

  // TouchPresence: the live connection closed, then opened again; examiners see both.
  for (bool online : {false, true}) {
    grpc::ClientContext tctx;
    tctx.AddMetadata("authorization", "Bearer " + w.candidates[0].token());
    waiting_room::v1::TouchPresenceRequest touch;
    touch.set_room_id(room);
    touch.set_online(online);
    waiting_room::v1::TouchPresenceResponse out;
    ASSERT_TRUE(stub->TouchPresence(&tctx, touch, &out).ok());
    EXPECT_EQ(Types(w.examiners[0], room).back(),
              online ? "CANDIDATE_ONLINE" : "CANDIDATE_OFFLINE");
  }

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  waiting_room::v1::SubscribeRequest req;
  req.set_room_id(room);
  req.set_after(0);
  auto reader = stub->Subscribe(&ctx, req);
  std::vector<waiting_room::v1::Event> got;
  waiting_room::v1::Event e;
  int64_t last = std::stoll(Lobby(w.candidates[0], room).Str("lastEventId"));
  while (got.size() < static_cast<size_t>(last) && reader->Read(&e)) got.push_back(e);
  ASSERT_EQ(got.size(), static_cast<size_t>(last));
  std::thread sender([&] {
    absl::SleepFor(absl::Milliseconds(300));
    s.Call("POST", "/v1/examiner/rooms/" + room + "/messages", R"({"text":"live"})",
           Bearer(w.examiners[1]));
  });
  while (reader->Read(&e)) {
    got.push_back(e);
    if (e.text() == "live") break;
  }
  sender.join();
  ctx.TryCancel();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].id(), static_cast<int64_t>(i + 1));
  EXPECT_EQ(got.back().text(), "live");
}

}  // namespace
}  // namespace admissions::testing
