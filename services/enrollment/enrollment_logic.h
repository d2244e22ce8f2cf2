#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/caller.h"
#include "common/crypto.h"
#include "enrollment/clients.h"
#include "enrollment/enrollment_store.h"
#include "enrollment/roster_csv.h"
#include "enrollment/v1/enrollment.pb.h"

namespace admissions::enrollment {

/// Reasons of enrollment's own (API.md).
namespace reason {
inline constexpr std::string_view kNoticeRequired = "NOTICE_REQUIRED";
inline constexpr std::string_view kNotEligible = "NOT_ELIGIBLE";
inline constexpr std::string_view kStepRequired = "STEP_REQUIRED";
}  // namespace reason

struct EnrollmentSettings {
  RosterLimits roster;
  /// Rejected lines listed in an import's answer; rejected_count has them all.
  int max_rejected_listed = 1000;
  int64_t max_fee_cents = 10'000'000;  // 100,000 yuan.
  int max_commitment_chars = 20000;
  int max_notice_chars = 20000;
  int max_question_chars = 2000;
  /// Kept free before the call's deadline for the answer to travel back.
  absl::Duration deadline_margin = absl::Milliseconds(200);
};

/// The steps owned by other services, each asked through its StepSource.
struct StepSources {
  StepSource* payment = nullptr;
  StepSource* materials = nullptr;
  StepSource* room = nullptr;
};

/// Enrollment's domain: schools and exams (operator, school admins), the roster, the
/// system notice, and the candidate's side: eligibility, admission, commitment and
/// the journey. Plain C++, no gRPC types; blocking (store and identity calls).
class EnrollmentLogic {
 public:
  EnrollmentLogic(EnrollmentStore* store, IdentityClient* identity, BlindIndex index,
                  StepSources steps, EnrollmentSettings settings = {});

  // Operators and school admins.
  absl::StatusOr<v1::CreateSchoolResponse> CreateSchool(const Caller& caller,
                                                        const v1::CreateSchoolRequest& req);
  absl::StatusOr<v1::ListSchoolsResponse> ListSchools(const Caller& caller);
  absl::StatusOr<v1::ListSchoolExamsResponse> ListSchoolExams(
      const Caller& caller, const v1::ListSchoolExamsRequest& req);
  absl::StatusOr<v1::CreateExamResponse> CreateExam(const Caller& caller,
                                                    const v1::CreateExamRequest& req);
  absl::StatusOr<v1::UpdateCommitmentResponse> UpdateCommitment(
      const Caller& caller, const v1::UpdateCommitmentRequest& req);
  /// The write rolls back when it would finish past the call's deadline (less a margin
  /// for the answer's way back): DEADLINE_EXCEEDED, nothing imported.
  absl::StatusOr<v1::ImportRosterResponse> ImportRoster(const Caller& caller,
                                                        const CallContext& call,
                                                        const v1::ImportRosterRequest& req);
  absl::StatusOr<v1::AddQuestionResponse> AddQuestion(const Caller& caller,
                                                      const v1::AddQuestionRequest& req);
  absl::StatusOr<v1::PublishNoticeResponse> PublishNotice(const Caller& caller,
                                                          const v1::PublishNoticeRequest& req);

  // Anyone signed in.
  absl::StatusOr<v1::Notice> GetNotice(const Caller& caller);

  // Candidates (PERMISSION_DENIED for staff). Every exam endpoint but the journey
  // answers NOTICE_REQUIRED until the current notice is read, and NOT_ELIGIBLE for an
  // exam whose roster does not have the caller's name, ID type and ID number.
  absl::Status ReadNotice(const Caller& caller, const v1::ReadNoticeRequest& req);
  absl::StatusOr<v1::ListExamsResponse> ListExams(const Caller& caller, const CallContext& call);
  absl::StatusOr<v1::Admission> GetAdmission(const Caller& caller, const CallContext& call,
                                             const v1::GetAdmissionRequest& req);
  absl::Status ConfirmAdmission(const Caller& caller, const CallContext& call,
                                const v1::ConfirmAdmissionRequest& req);
  absl::StatusOr<v1::Commitment> GetCommitment(const Caller& caller, const CallContext& call,
                                               const v1::GetCommitmentRequest& req);
  /// STEP_REQUIRED (details.step ADMISSION) before the admission is confirmed;
  /// INVALID_ARGUMENT (field version) for a version that is not the current one.
  absl::Status SignCommitment(const Caller& caller, const CallContext& call,
                              const v1::SignCommitmentRequest& req);
  absl::StatusOr<v1::Journey> GetJourney(const Caller& caller, const CallContext& call,
                                         const v1::GetJourneyRequest& req);

  // Internal: the settings other services read.
  absl::StatusOr<v1::Exam> GetExam(const v1::GetExamRequest& req);
  /// Internal: the roster line of an ID number; NOT_FOUND NOT_ON_ROSTER when none.
  absl::StatusOr<v1::RosterEntry> ResolveRosterEntry(const v1::ResolveRosterEntryRequest& req);
  /// Internal: the exam's question bank.
  absl::StatusOr<v1::QuestionBank> ListQuestionBank(const v1::ListQuestionBankRequest& req);

 private:
  absl::StatusOr<CandidateKey> KeyOf(const Caller& caller, const CallContext& call);
  /// The candidate's state for one exam, after the role, notice (when `notice_gate`),
  /// existence and eligibility checks.
  absl::StatusOr<CandidateExamState> CandidateExam(const Caller& caller, const CallContext& call,
                                                   const std::string& exam_id, bool notice_gate,
                                                   CandidateKey* key = nullptr);
  /// The exam, after checking that the caller is its school's admin (or an operator).
  absl::StatusOr<ExamRow> AdminExam(const Caller& caller, const std::string& exam_id,
                                    bool staff_enough = false);

  EnrollmentStore* store_;
  IdentityClient* identity_;
  BlindIndex index_;
  StepSources steps_;
  EnrollmentSettings settings_;
  UnconfiguredStepSource unconfigured_;
};

/// True for a UUID in its canonical text form.
bool IsUuid(std::string_view s);

}  // namespace admissions::enrollment
