#pragma once

#include <string>

#include "common/pg.h"
#include "enrollment/enrollment_store.h"

namespace admissions::enrollment {

/// The PostgreSQL form of EnrollmentStore, in schema "enrollment".
class PgEnrollmentStore : public EnrollmentStore {
 public:
  PgEnrollmentStore(const std::string& uri, int pool_size);

  absl::StatusOr<std::string> CreateSchool(const std::string& code, const std::string& name,
                                           const std::string& by) override;
  absl::StatusOr<std::optional<SchoolRow>> FindSchool(const std::string& id) override;
  absl::StatusOr<std::vector<SchoolRow>> ListSchools() override;
  absl::StatusOr<std::vector<ExamRow>> ListSchoolExams(const std::string& school_id) override;
  absl::StatusOr<std::string> CreateExam(const NewExam& exam) override;
  absl::StatusOr<std::optional<ExamRow>> FindExam(const std::string& id) override;
  absl::StatusOr<int> AddCommitmentVersion(const std::string& exam_id, const std::string& text,
                                           const std::string& by) override;
  absl::StatusOr<RosterWriteResult> UpsertRoster(const std::string& exam_id,
                                                 const std::vector<RosterRow>& rows,
                                                 absl::Time deadline) override;
  absl::StatusOr<std::string> AddQuestion(const std::string& exam_id, const std::string& text,
                                          const std::string& by) override;
  absl::StatusOr<NoticeRow> CurrentNotice() override;
  absl::StatusOr<int> PublishNotice(const std::string& text, const std::string& by) override;
  absl::StatusOr<bool> MarkNoticeRead(const std::string& account_id, int version) override;
  absl::StatusOr<bool> HasReadCurrentNotice(const std::string& account_id) override;
  absl::StatusOr<std::vector<ExamSummaryRow>> ListEligibleExams(const CandidateKey& key) override;
  absl::StatusOr<std::vector<QuestionRow>> ListQuestions(const std::string& exam_id) override;
  absl::StatusOr<std::optional<RosterRow>> FindRosterEntry(
      const std::string& exam_id, int id_type, const std::string& id_number_index) override;
  absl::StatusOr<std::optional<CandidateExamState>> CandidateState(
      const std::string& exam_id, const CandidateKey& key) override;
  absl::Status ConfirmAdmission(const std::string& exam_id, const std::string& account_id) override;
  absl::StatusOr<bool> SignCommitment(const std::string& exam_id, const std::string& account_id,
                                      int version) override;

  bool Ping() { return pool_.Ping(); }

 private:
  PgPool pool_;
};

/// A PostgreSQL array literal of `values` ({"a","b"}), for one `$n::text[]` parameter.
std::string PgTextArray(const std::vector<std::string>& values);

}  // namespace admissions::enrollment
