// Enrollment through the gateway over real HTTP: schools, exams, the roster, the
// notice, eligibility, admission, the commitment letter and the journey, with the real
// PostgreSQL and Redis that `make test` starts.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "enrollment/v1/enrollment.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "integration/harness.h"

namespace admissions::testing {
namespace {

const std::string kHeader = "name,idType,idNumber,gender,major,direction\n";

std::map<std::string, std::string> CsvHeaders(const std::string& token) {
  auto h = Bearer(token);
  h["Content-Type"] = "text/csv";
  return h;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// A valid resident ID number for each i (distinct for i < 3,650,000).
std::string ResidentId(int i) {
  absl::CivilDay day = absl::CivilDay(1975, 1, 1) + i / 1000;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "110105%04d%02d%02d%03d", static_cast<int>(day.year()),
                day.month(), day.day(), i % 1000);
  return WithCheckDigit(buf);
}

// The same 17 digits with a wrong check character.
std::string BadCheckDigit(const std::string& id) {
  std::string bad = id;
  bad[17] = bad[17] == '0' ? '1' : '0';
  return bad;
}

class EnrollmentHttpTest : public ::testing::Test {
 protected:
  Stack& s = Stack::Get();

  void SetUp() override {
    s.RedisDeleteMatching("rl:*");
    if (op_.empty()) op_ = Login(s, "operator", "operator-dev-pass").first;
    ASSERT_FALSE(op_.empty());
  }

  static std::string Unique() { return HexEncode(RandomBytes(4)); }

  std::string CreateSchool(const std::string& name = "") {
    auto r = s.Call("POST", "/v1/admin/schools",
                    absl::StrCat(R"({"code":"S)", Unique(), R"(","name":")",
                                 name.empty() ? "测试大学" : name, "\"}"),
                    Bearer(op_));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Str("schoolId");
  }

  std::string ExamJson(const std::string& school, int64_t fee, bool materials,
                       const std::string& mode = "DUAL_CAMERA") {
    absl::Time now = absl::Now();
    std::string json =
        absl::StrCat(R"({"schoolId":")", school, R"(","title":"2025 复试",)", R"("feeCents":)", fee,
                     R"(,"mode":")", mode, R"(",)", R"("screenShareAllowed":true,)",
                     R"("commitmentText":"本人承诺 v1")");
    if (fee > 0)
      absl::StrAppend(&json, R"(,"payDeadline":")", Rfc3339(now + absl::Hours(720)), "\"");
    if (materials) {
      absl::StrAppend(&json, R"(,"materialsOpenAt":")", Rfc3339(now), R"(","materialsCloseAt":")",
                      Rfc3339(now + absl::Hours(24 * 14)), "\"");
    }
    return json + "}";
  }

  std::string CreateExam(const std::string& school, int64_t fee = 10000, bool materials = true,
                         const std::string& token = "") {
    auto r = s.Call("POST", "/v1/admin/exams", ExamJson(school, fee, materials),
                    Bearer(token.empty() ? op_ : token));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Str("examId");
  }

  HttpResponse Import(const std::string& exam, const std::string& csv,
                      const std::string& token = "") {
    return s.Call("POST", "/v1/admin/exams/" + exam + "/roster", csv,
                  CsvHeaders(token.empty() ? op_ : token));
  }

  static std::string Line(const std::string& name, const std::string& id,
                          const std::string& major = "计算机科学与技术") {
    return absl::StrCat(name, ",RESIDENT_ID,", id, ",男,", major, ",人工智能\n");
  }

  int RosterRows(const std::string& exam) {
    return SqlInt(s,
                  "SELECT count(*) FROM enrollment.roster_entries WHERE exam_id = '" + exam + "'");
  }

  void ReadNotice(const std::string& token) {
    auto n = s.Call("GET", "/v1/notice", "", Bearer(token));
    ASSERT_EQ(n.status, 200) << n.body;
    EXPECT_FALSE(n.Str("text").empty());
    auto r =
        s.Call("POST", "/v1/notice:read", R"({"version":)" + n.Str("version") + "}", Bearer(token));
    ASSERT_EQ(r.status, 204) << r.body;
  }

  // A school admin of `school` with a token.
  std::string SchoolAdmin(const std::string& school) {
    std::string login = "admin-" + Unique();
    auto r = s.Call("POST", "/v1/admin/staff",
                    absl::StrCat(R"({"schoolId":")", school, R"(","role":"SCHOOL_ADMIN","login":")",
                                 login, R"(","password":"admin-pass-1","name":"管理员"})"),
                    Bearer(op_));
    EXPECT_EQ(r.status, 201) << r.body;
    return Login(s, login, "admin-pass-1").first;
  }

  std::map<std::string, std::string> Journey(const std::string& exam, const std::string& token,
                                             std::string* next = nullptr) {
    auto r = s.Call("GET", "/v1/exams/" + exam + "/journey", "", Bearer(token));
    EXPECT_EQ(r.status, 200) << r.body;
    std::map<std::string, std::string> out;
    if (const auto* steps = r.Find("steps")) {
      std::string order;
      for (const auto& v : steps->list_value().values()) {
        const auto& f = v.struct_value().fields();
        out[f.at("step").string_value()] = f.at("status").string_value();
        order += f.at("step").string_value() + " ";
      }
      EXPECT_EQ(order,
                "AGREEMENT FACE_VERIFICATION NOTICE ADMISSION COMMITMENT PAYMENT MATERIALS ROOM ");
    }
    if (next != nullptr) *next = r.Str("next");
    return out;
  }

  static std::string op_;
};
std::string EnrollmentHttpTest::op_;

TEST_F(EnrollmentHttpTest, FromLoginToSignedCommitment) {
  std::string school = CreateSchool("示范大学");
  std::string exam = CreateExam(school, 10000, true);
  ReadyCandidate rc = VerifiedCandidate(s);
  auto imported =
      Import(exam, kHeader + Line("张三", rc.c.id_number) + Line("李四", ResidentId(7)));
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(imported.Str("imported"), "2");
  const std::string& t = rc.token;

  // Nothing before the notice, but the journey tells where the candidate stands.
  ExpectError(s.Call("GET", "/v1/exams", "", Bearer(t)), 403, "NOTICE_REQUIRED");
  ExpectError(s.Call("GET", "/v1/exams/" + exam + "/admission", "", Bearer(t)), 403,
              "NOTICE_REQUIRED");
  ExpectError(s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(t)), 403,
              "NOTICE_REQUIRED");
  std::string next;
  auto steps = Journey(exam, t, &next);
  EXPECT_EQ(steps["AGREEMENT"], "DONE");
  EXPECT_EQ(steps["FACE_VERIFICATION"], "DONE");
  EXPECT_EQ(steps["NOTICE"], "TODO");
  EXPECT_EQ(next, "NOTICE");
  ExpectError(s.Call("POST", "/v1/notice:read", R"({"version":999})", Bearer(t)), 400,
              "INVALID_ARGUMENT", "version");
  ReadNotice(t);

  auto list = s.Call("GET", "/v1/exams", "", Bearer(t));
  ASSERT_EQ(list.status, 200) << list.body;
  const auto& exams = list.Find("exams")->list_value();
  ASSERT_EQ(exams.values_size(), 1) << list.body;
  const auto& e = exams.values(0).struct_value().fields();
  EXPECT_EQ(e.at("examId").string_value(), exam);
  EXPECT_EQ(e.at("schoolName").string_value(), "示范大学");
  EXPECT_EQ(e.at("mode").string_value(), "DUAL_CAMERA");
  EXPECT_TRUE(e.at("feeRequired").bool_value());
  EXPECT_TRUE(e.at("materialsRequired").bool_value());

  auto admission = s.Call("GET", "/v1/exams/" + exam + "/admission", "", Bearer(t));
  ASSERT_EQ(admission.status, 200) << admission.body;
  EXPECT_EQ(admission.Str("name"), "张三");
  EXPECT_EQ(admission.Str("gender"), "男");
  EXPECT_EQ(admission.Str("schoolName"), "示范大学");
  EXPECT_EQ(admission.Str("major"), "计算机科学与技术");
  EXPECT_EQ(admission.Str("direction"), "人工智能");
  EXPECT_EQ(admission.Str("idNumberMasked"),
            rc.c.id_number.substr(0, 3) + std::string(11, '*') + rc.c.id_number.substr(14));
  EXPECT_EQ(admission.Str("confirmed"), "false");
  EXPECT_EQ(admission.body.find(rc.c.id_number), std::string::npos);

  // Out of order: the letter before the admission is confirmed.
  auto early =
      s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":1})", Bearer(t));
  ExpectError(early, 403, "STEP_REQUIRED");
  EXPECT_EQ(early.Str("error.details.step"), "ADMISSION");

  EXPECT_EQ(s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(t)).status, 204);
  EXPECT_EQ(s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(t)).status, 204);
  EXPECT_EQ(s.Call("GET", "/v1/exams/" + exam + "/admission", "", Bearer(t)).Str("confirmed"),
            "true");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM enrollment.admission_confirmations WHERE exam_id = '" +
                          exam + "' AND account_id = '" + rc.c.account_id + "'"),
            1);

  auto letter = s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(t));
  ASSERT_EQ(letter.status, 200) << letter.body;
  EXPECT_EQ(letter.Str("version"), "1");
  EXPECT_EQ(letter.Str("text"), "本人承诺 v1");
  EXPECT_EQ(letter.Str("signed"), "false");
  EXPECT_EQ(s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":1})", Bearer(t))
                .status,
            204);
  EXPECT_EQ(s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(t)).Str("signed"),
            "true");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM enrollment.commitment_signatures WHERE exam_id = '" +
                          exam + "' AND account_id = '" + rc.c.account_id +
                          "' AND version = 1 AND signed_at <= now()"),
            1);

  // The journey: everything of enrollment's done; the fee is due and the exam asks for a
  // required material, neither done yet (payment and materials answer their steps).
  auto material = s.Call("POST", "/v1/admin/exams/" + exam + "/material-requirements",
                         R"({"kind":"IMAGE","title":"证件照","formats":["jpg"],"minCount":1,)"
                         R"("maxCount":1,"maxBytes":1000000,"required":true})",
                         Bearer(op_));
  ASSERT_EQ(material.status, 201) << material.body;
  steps = Journey(exam, t, &next);
  for (const char* done : {"AGREEMENT", "FACE_VERIFICATION", "NOTICE", "ADMISSION", "COMMITMENT"}) {
    EXPECT_EQ(steps[done], "DONE") << done;
  }
  EXPECT_EQ(steps["PAYMENT"], "TODO");
  EXPECT_EQ(steps["MATERIALS"], "TODO");
  EXPECT_EQ(steps["ROOM"], "TODO");
  EXPECT_EQ(next, "PAYMENT");

  // No plain ID number anywhere in enrollment's tables.
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM enrollment.roster_entries r WHERE r::text LIKE '%" +
                          rc.c.id_number.substr(6, 8) + "%'"),
            0);

  // The settings other services read (internal gRPC, no HTTP route).
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(s.enrollment_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = enrollment::v1::Enrollment::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  enrollment::v1::GetExamRequest req;
  req.set_exam_id(exam);
  enrollment::v1::Exam got;
  ASSERT_TRUE(stub->GetExam(&ctx, req, &got).ok());
  EXPECT_EQ(got.school_id(), school);
  EXPECT_EQ(got.fee_cents(), 10000);
  EXPECT_TRUE(got.materials_required());
  EXPECT_TRUE(got.has_pay_deadline());
  EXPECT_EQ(got.commitment_version(), 1);
  EXPECT_EQ(got.mode(), enrollment::v1::DUAL_CAMERA);
}

TEST_F(EnrollmentHttpTest, StepsASchoolDoesNotRequireNeverBlock) {
  std::string exam = CreateExam(CreateSchool(), /*fee=*/0, /*materials=*/false);
  ReadyCandidate rc = VerifiedCandidate(s);
  ASSERT_EQ(Import(exam, kHeader + Line("张三", rc.c.id_number)).status, 200);
  ReadNotice(rc.token);
  EXPECT_EQ(s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(rc.token)).status,
            204);
  EXPECT_EQ(
      s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":1})", Bearer(rc.token))
          .status,
      204);
  std::string next;
  auto steps = Journey(exam, rc.token, &next);
  EXPECT_EQ(steps["PAYMENT"], "NOT_REQUIRED");
  EXPECT_EQ(steps["MATERIALS"], "NOT_REQUIRED");
  EXPECT_EQ(steps["ROOM"], "TODO");
  EXPECT_EQ(next, "ROOM");
  auto list = s.Call("GET", "/v1/exams", "", Bearer(rc.token));
  const auto& e = list.Find("exams")->list_value().values(0).struct_value().fields();
  EXPECT_FALSE(e.at("feeRequired").bool_value());
  EXPECT_FALSE(e.at("materialsRequired").bool_value());
}

TEST_F(EnrollmentHttpTest, JourneyReportsTheGatesItIsNotBehind) {
  std::string exam = CreateExam(CreateSchool());
  Candidate c = RegisterCandidate(s);
  std::string t = Login(s, c.phone, c.password).first;
  ASSERT_EQ(Import(exam, kHeader + Line("张三", c.id_number)).status, 200);
  std::string next;
  auto steps = Journey(exam, t, &next);
  EXPECT_EQ(steps["AGREEMENT"], "TODO");
  EXPECT_EQ(steps["FACE_VERIFICATION"], "TODO");
  EXPECT_EQ(next, "AGREEMENT");
  // Every other exam endpoint stays behind the gates.
  ExpectError(s.Call("GET", "/v1/exams/" + exam + "/admission", "", Bearer(t)), 403,
              "AGREEMENT_REQUIRED");
  AcceptAgreement(s, t);
  steps = Journey(exam, t, &next);
  EXPECT_EQ(steps["AGREEMENT"], "DONE");
  EXPECT_EQ(next, "FACE_VERIFICATION");
  ExpectError(s.Call("GET", "/v1/exams", "", Bearer(t)), 403, "VERIFICATION_REQUIRED");
}

TEST_F(EnrollmentHttpTest, OffTheRosterIsNotEligible) {
  std::string exam = CreateExam(CreateSchool());
  ReadyCandidate on = VerifiedCandidate(s);
  ReadyCandidate off = VerifiedCandidate(s);
  ReadyCandidate renamed = VerifiedCandidate(s);  // Registered as 张三, on the roster as 张珊.
  ASSERT_EQ(Import(exam, kHeader + Line("张三", on.c.id_number) + Line("张珊", renamed.c.id_number))
                .status,
            200);
  for (const auto* rc : {&off, &renamed}) {
    ReadNotice(rc->token);
    auto list = s.Call("GET", "/v1/exams", "", Bearer(rc->token));
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(list.Find("exams")->list_value().values_size(), 0) << list.body;
    // Confirming someone else's admission: the exam is not theirs.
    auto confirm =
        s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(rc->token));
    ExpectError(confirm, 403, "NOT_ELIGIBLE");
    EXPECT_NE(confirm.Str("error.message").find("ID type"), std::string::npos);
    ExpectError(s.Call("GET", "/v1/exams/" + exam + "/admission", "", Bearer(rc->token)), 403,
                "NOT_ELIGIBLE");
    ExpectError(s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(rc->token)), 403,
                "NOT_ELIGIBLE");
    ExpectError(s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":1})",
                       Bearer(rc->token)),
                403, "NOT_ELIGIBLE");
    ExpectError(s.Call("GET", "/v1/exams/" + exam + "/journey", "", Bearer(rc->token)), 403,
                "NOT_ELIGIBLE");
  }
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM enrollment.admission_confirmations WHERE exam_id = '" +
                          exam + "'"),
            0);
  // Unknown and malformed exam ids.
  ReadNotice(on.token);
  ExpectError(s.Call("GET", "/v1/exams/00000000-0000-4000-8000-000000000000/admission", "",
                     Bearer(on.token)),
              404, "NOT_FOUND");
  ExpectError(s.Call("GET", "/v1/exams/not-an-id/admission", "", Bearer(on.token)), 400,
              "INVALID_ARGUMENT", "examId");
  // Staff are not candidates.
  ExpectError(s.Call("GET", "/v1/exams", "", Bearer(op_)), 403, "PERMISSION_DENIED");
  ExpectError(s.Call("GET", "/v1/exams/" + exam + "/journey", "", Bearer(op_)), 403,
              "PERMISSION_DENIED");
  ExpectError(s.Call("POST", "/v1/notice:read", R"({"version":1})", Bearer(op_)), 403,
              "PERMISSION_DENIED");
}

TEST_F(EnrollmentHttpTest, AStaleCommitmentVersionIsRefused) {
  std::string school = CreateSchool();
  std::string exam = CreateExam(school);
  std::string admin = SchoolAdmin(school);
  ReadyCandidate rc = VerifiedCandidate(s);
  ASSERT_EQ(Import(exam, kHeader + Line("张三", rc.c.id_number), admin).status, 200);
  ReadNotice(rc.token);
  ASSERT_EQ(s.Call("POST", "/v1/exams/" + exam + "/admission:confirm", "", Bearer(rc.token)).status,
            204);
  ASSERT_EQ(
      s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":1})", Bearer(rc.token))
          .status,
      204);

  auto v2 = s.Call("PUT", "/v1/admin/exams/" + exam + "/commitment", R"({"text":"本人承诺 v2"})",
                   Bearer(admin));
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.Str("version"), "2");
  ExpectError(
      s.Call("PUT", "/v1/admin/exams/" + exam + "/commitment", R"({"text":""})", Bearer(admin)),
      400, "INVALID_ARGUMENT", "text");

  auto letter = s.Call("GET", "/v1/exams/" + exam + "/commitment", "", Bearer(rc.token));
  EXPECT_EQ(letter.Str("version"), "2");
  EXPECT_EQ(letter.Str("text"), "本人承诺 v2");
  EXPECT_EQ(letter.Str("signed"), "false");
  EXPECT_EQ(Journey(exam, rc.token)["COMMITMENT"], "TODO");
  ExpectError(s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":1})",
                     Bearer(rc.token)),
              400, "INVALID_ARGUMENT", "version");
  ExpectError(s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":3})",
                     Bearer(rc.token)),
              400, "INVALID_ARGUMENT", "version");
  EXPECT_EQ(
      s.Call("POST", "/v1/exams/" + exam + "/commitment:sign", R"({"version":2})", Bearer(rc.token))
          .status,
      204);
  EXPECT_EQ(Journey(exam, rc.token)["COMMITMENT"], "DONE");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM enrollment.commitment_signatures WHERE exam_id = '" +
                          exam + "'"),
            2);
}

TEST_F(EnrollmentHttpTest, ANewNoticeMustBeReadAgain) {
  std::string exam = CreateExam(CreateSchool());
  ReadyCandidate rc = VerifiedCandidate(s);
  ASSERT_EQ(Import(exam, kHeader + Line("张三", rc.c.id_number)).status, 200);
  ReadNotice(rc.token);
  int old_version = std::stoi(s.Call("GET", "/v1/notice", "", Bearer(rc.token)).Str("version"));
  ASSERT_EQ(s.Call("GET", "/v1/exams", "", Bearer(rc.token)).status, 200);

  ExpectError(s.Call("POST", "/v1/admin/notices", R"({"text":"x"})", Bearer(rc.token)), 403,
              "PERMISSION_DENIED");
  ExpectError(s.Call("POST", "/v1/admin/notices", R"({"text":""})", Bearer(op_)), 400,
              "INVALID_ARGUMENT", "text");
  auto published =
      s.Call("POST", "/v1/admin/notices", R"({"text":"系统须知 第二版\nnew rules"})", Bearer(op_));
  ASSERT_EQ(published.status, 201) << published.body;
  EXPECT_EQ(published.Str("version"), std::to_string(old_version + 1));

  ExpectError(s.Call("GET", "/v1/exams", "", Bearer(rc.token)), 403, "NOTICE_REQUIRED");
  EXPECT_EQ(Journey(exam, rc.token)["NOTICE"], "TODO");
  ExpectError(s.Call("POST", "/v1/notice:read", absl::StrCat(R"({"version":)", old_version, "}"),
                     Bearer(rc.token)),
              400, "INVALID_ARGUMENT", "version");
  auto notice = s.Call("GET", "/v1/notice", "", Bearer(rc.token));
  EXPECT_EQ(notice.Str("text"), "系统须知 第二版\nnew rules");
  ReadNotice(rc.token);
  EXPECT_EQ(s.Call("GET", "/v1/exams", "", Bearer(rc.token)).status, 200);
}

TEST_F(EnrollmentHttpTest, SchoolsAndExamsRefuseBadInput) {
  std::string code = "C" + Unique();
  auto first = s.Call("POST", "/v1/admin/schools", R"({"code":")" + code + R"(","name":"甲大学"})",
                      Bearer(op_));
  ASSERT_EQ(first.status, 201) << first.body;
  ExpectError(
      s.Call("POST", "/v1/admin/schools", R"({"code":")" + code + R"(","name":"乙"})", Bearer(op_)),
      409, "ALREADY_EXISTS", "code");
  ExpectError(s.Call("POST", "/v1/admin/schools", R"({"code":"a b","name":"乙"})", Bearer(op_)),
              400, "INVALID_ARGUMENT", "code");
  ExpectError(s.Call("POST", "/v1/admin/schools", R"({"code":"OK1","name":""})", Bearer(op_)), 400,
              "INVALID_ARGUMENT", "name");
  std::string school = first.Str("schoolId");
  std::string admin = SchoolAdmin(school);
  ExpectError(s.Call("POST", "/v1/admin/schools", R"({"code":"X1","name":"乙"})", Bearer(admin)),
              403, "PERMISSION_DENIED");

  auto bad = [&](const std::string& from, const std::string& to, const std::string& field) {
    std::string json = ExamJson(school, 10000, true);
    std::string changed = absl::StrReplaceAll(json, {{from, to}});
    ASSERT_NE(changed, json) << from;
    ExpectError(s.Call("POST", "/v1/admin/exams", changed, Bearer(admin)), 400, "INVALID_ARGUMENT",
                field);
  };
  bad(R"("title":"2025 复试")", R"("title":"")", "title");
  bad(R"("feeCents":10000)", R"("feeCents":-1)", "feeCents");
  bad(R"("feeCents":10000)", R"("feeCents":100000000000)", "feeCents");
  bad(R"("mode":"DUAL_CAMERA")", R"("mode":"EXAM_MODE_UNSPECIFIED")", "mode");
  bad(R"("commitmentText":"本人承诺 v1")", R"("commitmentText":" ")", "commitmentText");
  bad(R"("materialsCloseAt")", R"("ignoredCloseAt")", "");  // Unknown field: 400.
  {
    absl::Time now = absl::Now();
    std::string base = absl::StrCat(R"({"schoolId":")", school,
                                    R"(","title":"t","mode":"SINGLE_CAMERA","commitmentText":"c")");
    ExpectError(s.Call("POST", "/v1/admin/exams", base + R"(,"feeCents":100})", Bearer(admin)), 400,
                "INVALID_ARGUMENT", "payDeadline");
    ExpectError(s.Call("POST", "/v1/admin/exams",
                       base + R"(,"materialsOpenAt":")" + Rfc3339(now) + "\"}", Bearer(admin)),
                400, "INVALID_ARGUMENT", "materialsCloseAt");
    ExpectError(s.Call("POST", "/v1/admin/exams",
                       base + R"(,"materialsOpenAt":")" + Rfc3339(now) +
                           R"(","materialsCloseAt":")" + Rfc3339(now - absl::Hours(1)) + "\"}",
                       Bearer(admin)),
                400, "INVALID_ARGUMENT", "materialsCloseAt");
    EXPECT_EQ(s.Call("POST", "/v1/admin/exams", base + "}", Bearer(admin)).status, 201);
  }
  ExpectError(s.Call("POST", "/v1/admin/exams",
                     ExamJson("00000000-0000-4000-8000-000000000000", 0, false), Bearer(op_)),
              404, "NOT_FOUND", "schoolId");
  ReadyCandidate rc = VerifiedCandidate(s);
  ExpectError(s.Call("POST", "/v1/admin/exams", ExamJson(school, 0, false), Bearer(rc.token)), 403,
              "PERMISSION_DENIED");
}

TEST_F(EnrollmentHttpTest, ASchoolAdminNeverTouchesAnotherSchoolsExam) {
  std::string school_a = CreateSchool("甲大学"), school_b = CreateSchool("乙大学");
  std::string admin_a = SchoolAdmin(school_a);
  std::string exam_a = CreateExam(school_a, 0, false, admin_a);
  std::string exam_b = CreateExam(school_b);
  ASSERT_FALSE(exam_a.empty());

  std::string csv = kHeader + Line("王五", ResidentId(11));
  EXPECT_EQ(Import(exam_a, csv, admin_a).status, 200);
  ExpectError(Import(exam_b, csv, admin_a), 403, "PERMISSION_DENIED");
  EXPECT_EQ(RosterRows(exam_b), 0);
  ExpectError(s.Call("PUT", "/v1/admin/exams/" + exam_b + "/commitment", R"({"text":"改"})",
                     Bearer(admin_a)),
              403, "PERMISSION_DENIED");
  ExpectError(s.Call("POST", "/v1/admin/exams/" + exam_b + "/questions", R"({"text":"q"})",
                     Bearer(admin_a)),
              403, "PERMISSION_DENIED");
  ExpectError(s.Call("POST", "/v1/admin/exams", ExamJson(school_b, 0, false), Bearer(admin_a)), 403,
              "PERMISSION_DENIED");
  EXPECT_EQ(SqlInt(s, "SELECT max(version) FROM enrollment.commitment_versions WHERE exam_id = '" +
                          exam_b + "'"),
            1);

  // Listing: a school admin sees their own school and its exams only.
  auto schools = s.Call("GET", "/v1/admin/schools", "", Bearer(admin_a));
  ASSERT_EQ(schools.status, 200) << schools.body;
  ASSERT_EQ(schools.Find("schools")->list_value().values_size(), 1) << schools.body;
  EXPECT_EQ(schools.Find("schools")
                ->list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("schoolId")
                .string_value(),
            school_a);
  auto all = s.Call("GET", "/v1/admin/schools", "", Bearer(op_));
  EXPECT_GE(all.Find("schools")->list_value().values_size(), 2) << all.body;
  auto own = s.Call("GET", "/v1/admin/schools/" + school_a + "/exams", "", Bearer(admin_a));
  ASSERT_EQ(own.status, 200) << own.body;
  ASSERT_EQ(own.Find("exams")->list_value().values_size(), 1) << own.body;
  EXPECT_EQ(
      own.Find("exams")->list_value().values(0).struct_value().fields().at("examId").string_value(),
      exam_a);
  ExpectError(s.Call("GET", "/v1/admin/schools/" + school_b + "/exams", "", Bearer(admin_a)), 403,
              "PERMISSION_DENIED");
  EXPECT_EQ(s.Call("GET", "/v1/admin/schools/" + school_b + "/exams", "", Bearer(op_)).status, 200);
}

TEST_F(EnrollmentHttpTest, QuestionBank) {
  std::string school = CreateSchool();
  std::string exam = CreateExam(school);
  std::string admin = SchoolAdmin(school);
  auto q = s.Call("POST", "/v1/admin/exams/" + exam + "/questions",
                  R"({"text":"请介绍你的研究经历。"})", Bearer(admin));
  ASSERT_EQ(q.status, 201) << q.body;
  EXPECT_EQ(q.Str("questionId").size(), 36u);
  // An examiner of the school adds too.
  std::string login = "examiner-" + Unique();
  ASSERT_EQ(s.Call("POST", "/v1/admin/staff",
                   absl::StrCat(R"({"schoolId":")", school, R"(","role":"EXAMINER","login":")",
                                login, R"(","password":"exam-pass-1","name":"考官"})"),
                   Bearer(admin))
                .status,
            201);
  std::string examiner = Login(s, login, "exam-pass-1").first;
  EXPECT_EQ(s.Call("POST", "/v1/admin/exams/" + exam + "/questions", R"({"text":"第二题"})",
                   Bearer(examiner))
                .status,
            201);
  ExpectError(
      s.Call("POST", "/v1/admin/exams/" + exam + "/questions", R"({"text":""})", Bearer(admin)),
      400, "INVALID_ARGUMENT", "text");
  ExpectError(s.Call("POST", "/v1/admin/exams/" + exam + "/questions",
                     R"({"text":")" + std::string(2001, 'q') + "\"}", Bearer(admin)),
              400, "INVALID_ARGUMENT", "text");
  std::string longest;
  for (int i = 0; i < 2000; ++i) longest += "题";
  EXPECT_EQ(s.Call("POST", "/v1/admin/exams/" + exam + "/questions",
                   R"({"text":")" + longest + "\"}", Bearer(admin))
                .status,
            201);
  ReadyCandidate rc = VerifiedCandidate(s);
  ExpectError(
      s.Call("POST", "/v1/admin/exams/" + exam + "/questions", R"({"text":"q"})", Bearer(rc.token)),
      403, "PERMISSION_DENIED");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM enrollment.questions WHERE exam_id = '" + exam + "'"),
            3);
}

// ---- The roster's bad input.

class RosterTest : public EnrollmentHttpTest {
 protected:
  void SetUp() override {
    EnrollmentHttpTest::SetUp();
    exam_ = CreateExam(CreateSchool());
  }
  // {line, reason} of every rejected line.
  static std::map<int, std::string> Rejected(const HttpResponse& r) {
    std::map<int, std::string> out;
    if (const auto* list = r.Find("rejected")) {
      for (const auto& v : list->list_value().values()) {
        const auto& f = v.struct_value().fields();
        out[static_cast<int>(f.at("line").number_value())] = f.at("reason").string_value();
      }
    }
    return out;
  }
  std::string exam_;
};

TEST_F(RosterTest, AWrongHeaderImportsNothing) {
  for (std::string header : std::vector<std::string>{
           "name,idType,idNumber,gender,major\n", "姓名,证件类型,证件号码,性别,专业,方向\n",
           "Name,IdType,IdNumber,Gender,Major,Direction\n", std::string("\n")}) {
    auto r = Import(exam_, header + Line("张三", ResidentId(1)));
    ExpectError(r, 400, "INVALID_ARGUMENT", "csv");
    EXPECT_NE(r.Str("error.message").find("name,idType,idNumber,gender,major,direction"),
              std::string::npos)
        << r.body;
  }
  ExpectError(Import(exam_, ""), 400, "INVALID_ARGUMENT", "csv");
  EXPECT_EQ(RosterRows(exam_), 0);
}

TEST_F(RosterTest, WrongEncoding) {
  // GBK: "张三" is D5 C5 C8 FD, "男" C4 D0. The line is refused, the UTF-8 line imports.
  std::string gbk =
      std::string("\xD5\xC5\xC8\xFD") + ",RESIDENT_ID," + ResidentId(21) + ",\xC4\xD0,CS,AI\n";
  auto r = Import(exam_, kHeader + gbk + Line("李四", ResidentId(22)));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("imported"), "1");
  auto rejected = Rejected(r);
  ASSERT_EQ(rejected.size(), 1u) << r.body;
  EXPECT_NE(rejected[2].find("UTF-8"), std::string::npos) << r.body;
  EXPECT_TRUE(r.json.IsInitialized());

  // UTF-16 (as Excel's "Unicode text" writes it): refused as a whole.
  std::string utf16 = "\xFF\xFE";
  for (char c : kHeader) utf16 += std::string(1, c) + '\0';
  ExpectError(Import(exam_, utf16), 400, "INVALID_ARGUMENT", "csv");
  // A BOM and CRLF line ends are fine.
  auto bom = Import(exam_,
                    "\xEF\xBB\xBF"
                    "name,idType,idNumber,gender,major,direction\r\n"
                    "赵六,RESIDENT_ID," +
                        ResidentId(23) + ",女,数学,\r\n");
  ASSERT_EQ(bom.status, 200) << bom.body;
  EXPECT_EQ(bom.Str("imported"), "1");
  EXPECT_EQ(bom.Str("rejectedCount"), "0");
  EXPECT_EQ(RosterRows(exam_), 2);
}

TEST_F(RosterTest, QuotedFieldsWithCommasAndNewlines) {
  std::string csv = kHeader +                                                              // line 1
                    "\"王, 五\",RESIDENT_ID," + ResidentId(31) +                           // line 2
                    ",男,\"计算机科学, 技术\",\"方向一\n方向二 \"\"A\"\"\"\n" +            // line 3
                    "孙七,RESIDENT_ID," + BadCheckDigit(ResidentId(32)) + ",女,数学,\n" +  // 4
                    "\"周八\",\"RESIDENT_ID\",\"" + ResidentId(33) +
                    "\",\"男\",\"物理\",\"\"\n";  // 5
  auto r = Import(exam_, csv);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("imported"), "2");
  auto rejected = Rejected(r);
  ASSERT_EQ(rejected.size(), 1u) << r.body;
  EXPECT_NE(rejected[4].find("check digit"), std::string::npos) << r.body;
  EXPECT_EQ(
      s.Sql("SELECT major || '|' || direction FROM enrollment.roster_entries WHERE exam_id = '" +
            exam_ + "' AND name = '王, 五'"),
      "计算机科学, 技术|方向一\n方向二 \"A\"");
  EXPECT_EQ(SqlInt(s, "SELECT count(*) FROM enrollment.roster_entries WHERE exam_id = '" + exam_ +
                          "' AND name = '周八'"),
            1);
  // Bad quoting: text after a closing quote, and a quote never closed.
  auto bad = Import(exam_, kHeader + "\"张\"三,RESIDENT_ID," + ResidentId(34) + ",男,a,b\n" +
                               Line("吴九", ResidentId(35)) + "\"郑十,RESIDENT_ID\n");
  ASSERT_EQ(bad.status, 200) << bad.body;
  EXPECT_EQ(bad.Str("imported"), "1");
  auto why = Rejected(bad);
  EXPECT_NE(why[2].find("closing quote"), std::string::npos) << bad.body;
  EXPECT_NE(why[4].find("not closed"), std::string::npos) << bad.body;
}

TEST_F(RosterTest, EveryBadLineHasItsReason) {
  std::string csv = kHeader + Line("甲", ResidentId(41)) +                  // 2 ok
                    Line("乙", BadCheckDigit(ResidentId(42))) +             // 3
                    "丙,DRIVING_LICENCE," + ResidentId(43) + ",男,a,b\n" +  // 4
                    ",RESIDENT_ID," + ResidentId(44) + ",男,a,b\n" +        // 5
                    "丁,RESIDENT_ID," + ResidentId(45) + ",,a,b\n" +        // 6
                    "戊,RESIDENT_ID,,男,a,b\n" +                            // 7
                    "己,RESIDENT_ID," + ResidentId(46) + ",男,a\n" +        // 8
                    Line("庚", ResidentId(41)) +                            // 9 dup of 2
                    "\n" +                                                  // 10 blank
                    "辛,PASSPORT,E1234567,女,a,b\n" +                       // 11 ok
                    "壬,PASSPORT,E12-4567,女,a,b\n" +                       // 12
                    Line("癸", "11010519491231002x");                       // 13 ok (x)
  auto r = Import(exam_, csv);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("imported"), "3");
  EXPECT_EQ(r.Str("rejectedCount"), "8");
  auto why = Rejected(r);
  ASSERT_EQ(why.size(), 8u) << r.body;
  EXPECT_NE(why[3].find("check digit"), std::string::npos) << why[3];
  EXPECT_NE(why[4].find("unknown ID type"), std::string::npos) << why[4];
  EXPECT_NE(why[5].find("missing field name"), std::string::npos) << why[5];
  EXPECT_NE(why[6].find("missing field gender"), std::string::npos) << why[6];
  EXPECT_NE(why[7].find("missing field idNumber"), std::string::npos) << why[7];
  EXPECT_NE(why[8].find("expected 6 fields"), std::string::npos) << why[8];
  EXPECT_NE(why[9].find("duplicate in file: line 2"), std::string::npos) << why[9];
  EXPECT_NE(why[12].find("idNumber"), std::string::npos) << why[12];
  EXPECT_EQ(RosterRows(exam_), 3);
}

TEST_F(RosterTest, AHalfMillionCharacterLineIsRejectedAlone) {
  std::string huge =
      "长" + std::string(500000, 'a') + ",RESIDENT_ID," + ResidentId(51) + ",男,a,b\n";
  auto r = Import(exam_, kHeader + Line("甲", ResidentId(52)) + huge + Line("乙", ResidentId(53)));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Str("imported"), "2");
  auto why = Rejected(r);
  ASSERT_EQ(why.size(), 1u) << r.body.substr(0, 2000);
  EXPECT_NE(why[3].find("longer than 4096 bytes"), std::string::npos) << why[3];
  EXPECT_LT(r.body.size(), 1000u);
  // The same inside an unterminated-looking quoted field that does close.
  std::string quoted =
      "\"" + std::string(500000, 'b') + "\",RESIDENT_ID," + ResidentId(54) + ",男,a,b\n";
  auto q = Import(exam_, kHeader + quoted + Line("丙", ResidentId(55)));
  ASSERT_EQ(q.status, 200) << q.body.substr(0, 2000);
  EXPECT_EQ(q.Str("imported"), "1");
  EXPECT_NE(Rejected(q)[2].find("longer than"), std::string::npos);
}

TEST_F(RosterTest, A20MegabyteFileIsTooLarge) {
  std::string csv = kHeader;
  for (int i = 0; csv.size() < 20u * 1024 * 1024; ++i) csv += Line("张三", ResidentId(i));
  ExpectError(CallExpectingEarlyAnswer(s, "POST", "/v1/admin/exams/" + exam_ + "/roster", csv,
                                       CsvHeaders(op_)),
              413, "PAYLOAD_TOO_LARGE");
  ASSERT_GT(csv.size(), 16u << 20);  // Over the roster route's limit.
  EXPECT_EQ(RosterRows(exam_), 0);
}

TEST_F(RosterTest, AReImportUpdatesInsteadOfDuplicating) {
  std::string csv = kHeader;
  for (int i = 0; i < 20; ++i) csv += Line("考生" + std::to_string(i), ResidentId(100 + i));
  auto first = Import(exam_, csv);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Str("imported"), "20");
  EXPECT_EQ(first.Str("updated"), "0");
  std::string again = kHeader;
  for (int i = 0; i < 20; ++i) {
    again += Line("考生" + std::to_string(i), ResidentId(100 + i), i == 3 ? "软件工程" : "计算机");
  }
  again += Line("新考生", ResidentId(200));
  auto second = Import(exam_, again);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.Str("imported"), "21");
  EXPECT_EQ(second.Str("updated"), "20");
  EXPECT_EQ(RosterRows(exam_), 21);
  EXPECT_EQ(s.Sql("SELECT major FROM enrollment.roster_entries WHERE exam_id = '" + exam_ +
                  "' AND name = '考生3'"),
            "软件工程");
}

TEST_F(RosterTest, FiftyThousandLinesInOneRequest) {
  constexpr int kLines = 50000;
  std::string csv = kHeader;
  csv.reserve(kLines * 80);
  for (int i = 0; i < kLines; ++i) {
    csv += Line("考生" + std::to_string(i), ResidentId(1000 + i));
  }
  auto start = std::chrono::steady_clock::now();
  auto r = Import(exam_, csv);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 2000);
  EXPECT_EQ(r.Str("imported"), std::to_string(kLines));
  EXPECT_EQ(r.Str("rejectedCount"), "0");
  EXPECT_EQ(RosterRows(exam_), kLines);
  std::printf("roster import: %d lines (%.1f MB) in %.2f s = %.0f lines/s\n", kLines,
              csv.size() / 1e6, seconds, kLines / seconds);
  RecordProperty("roster_lines_per_second", static_cast<int>(kLines / seconds));

  // The same file again: every line an update, still one request.
  start = std::chrono::steady_clock::now();
  auto again = Import(exam_, csv);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(again.status, 200) << again.body.substr(0, 2000);
  EXPECT_EQ(again.Str("updated"), std::to_string(kLines));
  EXPECT_EQ(RosterRows(exam_), kLines);
  std::printf("roster re-import: %d lines in %.2f s = %.0f lines/s\n", kLines, seconds,
              kLines / seconds);

  // A caller that gives up (its deadline passes) never finds half an import: the write
  // rolls back. Straight to enrollment, with a deadline shorter than the import takes.
  std::string other = CreateExam(CreateSchool());
  auto stub = enrollment::v1::Enrollment::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(s.enrollment_port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  ctx.AddMetadata("authorization", "Bearer " + op_);
  enrollment::v1::ImportRosterRequest req;
  req.set_exam_id(other);
  req.set_csv(csv);
  enrollment::v1::ImportRosterResponse resp;
  EXPECT_EQ(stub->ImportRoster(&ctx, req, &resp).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // Let the server finish its work.
  EXPECT_EQ(RosterRows(other), 0);

  // Many bad lines: the answer lists the first 1000 and counts them all.
  std::string bad = kHeader;
  for (int i = 0; i < 3000; ++i) bad += "x,NOPE,1,男,a,b\n";
  auto many = Import(exam_, bad);
  ASSERT_EQ(many.status, 200);
  EXPECT_EQ(many.Str("rejectedCount"), "3000");
  EXPECT_EQ(many.Find("rejected")->list_value().values_size(), 1000);
}

}  // namespace
}  // namespace admissions::testing
