// EnrollmentLogic with fakes of its store, identity and step sources: the journey's
// rules, eligibility and the order of the steps.
#include "enrollment/enrollment_logic.h"

#include <gtest/gtest.h>

#include <map>

#include "common/crypto.h"
#include "common/status.h"

namespace admissions::enrollment {
namespace {

constexpr char kExam[] = "11111111-2222-4333-8444-555555555555";
constexpr char kAccount[] = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

class FakeStore : public EnrollmentStore {
 public:
  std::optional<CandidateExamState> state;
  bool notice_read = false;
  int confirms = 0;
  int signed_version = 0;

  absl::StatusOr<std::string> CreateSchool(const std::string&, const std::string&,
                                           const std::string&) override {
    return std::string("s");
  }
  absl::StatusOr<std::optional<SchoolRow>> FindSchool(const std::string&) override {
    return std::optional<SchoolRow>();
  }
  absl::StatusOr<std::vector<SchoolRow>> ListSchools() override { return std::vector<SchoolRow>(); }
  absl::StatusOr<std::vector<ExamRow>> ListSchoolExams(const std::string&) override {
    return std::vector<ExamRow>();
  }
  absl::StatusOr<std::string> CreateExam(const NewExam&) override { return std::string("e"); }
  absl::StatusOr<std::optional<ExamRow>> FindExam(const std::string&) override {
    return state ? std::optional<ExamRow>(state->exam) : std::nullopt;
  }
  absl::StatusOr<int> AddCommitmentVersion(const std::string&, const std::string&,
                                           const std::string&) override {
    return 2;
  }
  absl::StatusOr<RosterWriteResult> UpsertRoster(const std::string&,
                                                 const std::vector<RosterRow>& rows,
                                                 absl::Time) override {
    return RosterWriteResult{static_cast<int>(rows.size()), 0};
  }
  absl::StatusOr<std::string> AddQuestion(const std::string&, const std::string&,
                                          const std::string&) override {
    return std::string("q");
  }
  absl::StatusOr<NoticeRow> CurrentNotice() override { return NoticeRow{1, "n", absl::Now()}; }
  absl::StatusOr<int> PublishNotice(const std::string&, const std::string&) override { return 2; }
  absl::StatusOr<bool> MarkNoticeRead(const std::string&, int version) override {
    return version == 1;
  }
  absl::StatusOr<bool> HasReadCurrentNotice(const std::string&) override { return notice_read; }
  absl::StatusOr<std::vector<ExamSummaryRow>> ListEligibleExams(const CandidateKey&) override {
    return std::vector<ExamSummaryRow>();
  }
  absl::StatusOr<std::optional<CandidateExamState>> CandidateState(const std::string&,
                                                                   const CandidateKey&) override {
    return state;
  }
  absl::Status ConfirmAdmission(const std::string&, const std::string&) override {
    ++confirms;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> SignCommitment(const std::string&, const std::string&,
                                      int version) override {
    if (!state || version != state->exam.commitment_version) return false;
    signed_version = version;
    return true;
  }
};

class FakeIdentity : public IdentityClient {
 public:
  identity::v1::GateState gates;
  absl::Status fail;
  absl::StatusOr<identity::v1::EligibilityIdentity> GetEligibilityIdentity(
      const CallContext&, const std::string&) override {
    if (!fail.ok()) return fail;
    identity::v1::EligibilityIdentity e;
    e.set_name("张三");
    e.set_id_type(identity::v1::RESIDENT_ID);
    e.set_id_number_index("ab");
    return e;
  }
  absl::StatusOr<identity::v1::GateState> GetGateState(const CallContext&,
                                                       const std::string&) override {
    return gates;
  }
  // Enrollment never asks it (the waiting room does): a call would fail the test.
  absl::StatusOr<identity::v1::CheckRoomVerificationResponse> CheckRoomVerification(
      const CallContext&, const identity::v1::CheckRoomVerificationRequest&) override {
    ADD_FAILURE() << "enrollment asked identity for a room verification";
    return absl::InternalError("unexpected");
  }
};

class FakeSource : public StepSource {
 public:
  absl::StatusOr<v1::StepStatus> answer = v1::DONE;
  std::vector<v1::JourneyStep> asked;
  absl::StatusOr<v1::StepStatus> CandidateStep(const CallContext&, const std::string& exam,
                                               const std::string& account,
                                               v1::JourneyStep step) override {
    EXPECT_EQ(exam, kExam);
    EXPECT_EQ(account, kAccount);
    asked.push_back(step);
    return answer;
  }
};

class EnrollmentLogicTest : public ::testing::Test {
 protected:
  EnrollmentLogicTest() {
    InitCrypto();
    CandidateExamState s;
    s.exam.id = kExam;
    s.exam.fee_cents = 10000;
    s.exam.materials_open_at = absl::Now();
    s.exam.materials_close_at = absl::Now() + absl::Hours(1);
    s.exam.commitment_version = 3;
    s.eligible = true;
    s.notice_read = true;
    store.state = s;
    identity.gates.set_agreement_accepted(true);
    identity.gates.set_face_verified(true);
    candidate.account_id = kAccount;
    candidate.roles = {"CANDIDATE"};
  }

  EnrollmentLogic Logic(StepSources sources = {}) {
    return EnrollmentLogic(&store, &identity,
                           *BlindIndex::FromBase64Key(Base64Encode(std::string(32, 'k'))), sources);
  }

  std::map<v1::JourneyStep, v1::StepStatus> Steps(const v1::Journey& j) {
    std::map<v1::JourneyStep, v1::StepStatus> out;
    for (const auto& s : j.steps()) out[s.step()] = s.status();
    return out;
  }

  v1::GetJourneyRequest JourneyRequest() {
    v1::GetJourneyRequest r;
    r.set_exam_id(kExam);
    return r;
  }

  FakeStore store;
  FakeIdentity identity;
  Caller candidate;
  CallContext call;
};

TEST_F(EnrollmentLogicTest, UnconfiguredSourcesAnswerTodoNeverDone) {
  auto logic = Logic();
  auto j = logic.GetJourney(candidate, call, JourneyRequest());
  ASSERT_TRUE(j.ok()) << j.status();
  auto steps = Steps(*j);
  EXPECT_EQ(steps[v1::PAYMENT], v1::TODO);
  EXPECT_EQ(steps[v1::MATERIALS], v1::TODO);
  EXPECT_EQ(steps[v1::ROOM], v1::TODO);
  EXPECT_EQ(j->next(), v1::ADMISSION);
  EXPECT_EQ(j->steps_size(), 8);
}

TEST_F(EnrollmentLogicTest, ConfiguredSourcesAreAskedOnlyForRequiredSteps) {
  FakeSource payment, materials, room;
  materials.answer = v1::RETURNED;
  room.answer = v1::TODO;
  store.state->admission_confirmed = true;
  store.state->commitment_signed = true;
  auto logic = Logic({&payment, &materials, &room});
  auto j = logic.GetJourney(candidate, call, JourneyRequest());
  ASSERT_TRUE(j.ok()) << j.status();
  auto steps = Steps(*j);
  EXPECT_EQ(steps[v1::PAYMENT], v1::DONE);
  EXPECT_EQ(steps[v1::MATERIALS], v1::RETURNED);
  EXPECT_EQ(j->next(), v1::MATERIALS);
  EXPECT_EQ(payment.asked, std::vector<v1::JourneyStep>{v1::PAYMENT});

  // No fee, no materials window: not asked, NOT_REQUIRED, never the next step.
  store.state->exam.fee_cents = 0;
  store.state->exam.materials_open_at.reset();
  payment.asked.clear();
  materials.asked.clear();
  j = logic.GetJourney(candidate, call, JourneyRequest());
  ASSERT_TRUE(j.ok());
  steps = Steps(*j);
  EXPECT_EQ(steps[v1::PAYMENT], v1::NOT_REQUIRED);
  EXPECT_EQ(steps[v1::MATERIALS], v1::NOT_REQUIRED);
  EXPECT_TRUE(payment.asked.empty());
  EXPECT_TRUE(materials.asked.empty());
  EXPECT_EQ(j->next(), v1::ROOM);

  room.answer = v1::DONE;
  j = logic.GetJourney(candidate, call, JourneyRequest());
  EXPECT_FALSE(j->has_next());

  // A source that fails fails the journey: no guess.
  room.answer = Error(absl::StatusCode::kUnavailable, "UNAVAILABLE", "down");
  EXPECT_EQ(logic.GetJourney(candidate, call, JourneyRequest()).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(EnrollmentLogicTest, GatesComeFromIdentity) {
  identity.gates.set_agreement_accepted(false);
  identity.gates.set_face_verified(false);
  identity.gates.set_manual_review(true);
  auto logic = Logic();
  auto j = logic.GetJourney(candidate, call, JourneyRequest());
  ASSERT_TRUE(j.ok());
  auto steps = Steps(*j);
  EXPECT_EQ(steps[v1::AGREEMENT], v1::TODO);
  EXPECT_EQ(steps[v1::FACE_VERIFICATION], v1::IN_REVIEW);
  EXPECT_EQ(j->next(), v1::AGREEMENT);
}

TEST_F(EnrollmentLogicTest, EligibilityNoticeAndOrder) {
  auto logic = Logic();
  v1::ConfirmAdmissionRequest confirm;
  confirm.set_exam_id(kExam);
  v1::SignCommitmentRequest sign;
  sign.set_exam_id(kExam);
  sign.set_version(3);

  store.state->notice_read = false;
  auto st = logic.ConfirmAdmission(candidate, call, confirm);
  EXPECT_EQ(ReasonOf(st), "NOTICE_REQUIRED");
  store.state->notice_read = true;

  store.state->eligible = false;
  EXPECT_EQ(ReasonOf(logic.ConfirmAdmission(candidate, call, confirm)), "NOT_ELIGIBLE");
  EXPECT_EQ(ReasonOf(logic.GetJourney(candidate, call, JourneyRequest()).status()), "NOT_ELIGIBLE");
  store.state->eligible = true;

  st = logic.SignCommitment(candidate, call, sign);
  EXPECT_EQ(ReasonOf(st), "STEP_REQUIRED");
  EXPECT_EQ(DetailsOf(st)["step"], "ADMISSION");

  EXPECT_TRUE(logic.ConfirmAdmission(candidate, call, confirm).ok());
  EXPECT_EQ(store.confirms, 1);
  store.state->admission_confirmed = true;
  EXPECT_TRUE(logic.ConfirmAdmission(candidate, call, confirm).ok());
  EXPECT_EQ(store.confirms, 1);  // Idempotent: the first time stays.

  sign.set_version(2);
  st = logic.SignCommitment(candidate, call, sign);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DetailsOf(st)["field"], "version");
  sign.set_version(3);
  EXPECT_TRUE(logic.SignCommitment(candidate, call, sign).ok());
  EXPECT_EQ(store.signed_version, 3);

  // Staff are not candidates; identity down is UNAVAILABLE, not a guess.
  Caller op;
  op.account_id = kAccount;
  op.roles = {"OPERATOR"};
  EXPECT_EQ(logic.GetJourney(op, call, JourneyRequest()).status().code(),
            absl::StatusCode::kPermissionDenied);
  identity.fail = Error(absl::StatusCode::kUnavailable, "UNAVAILABLE", "down");
  EXPECT_EQ(logic.GetJourney(candidate, call, JourneyRequest()).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace admissions::enrollment
