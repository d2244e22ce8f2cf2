#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace admissions::enrollment {

struct SchoolRow {
  std::string id, code, name;
};

/// An exam's settings as stored. Times are absent when not set.
struct ExamRow {
  std::string id, school_id, school_name, title;
  int64_t fee_cents = 0;
  std::optional<absl::Time> pay_deadline;
  int mode = 0;  // enrollment.v1.ExamMode
  bool screen_share_allowed = false;
  std::optional<absl::Time> materials_open_at, materials_close_at;
  int commitment_version = 0;  // The newest version of the commitment letter.
};

struct NewExam {
  std::string school_id, title;
  int64_t fee_cents = 0;
  std::optional<absl::Time> pay_deadline;
  int mode = 0;
  bool screen_share_allowed = false;
  std::optional<absl::Time> materials_open_at, materials_close_at;
  std::string commitment_text;
  std::string created_by;
};

/// A roster line as stored: the ID number only as its blind index and masked form.
struct RosterRow {
  int id_type = 0;
  std::string id_number_index;  // Hex HMAC-SHA-256, domain "id" (identity's).
  std::string id_number_masked;
  std::string name, gender, major, direction;
};

struct RosterWriteResult {
  int inserted = 0;
  int updated = 0;  // Matched an entry already there (changed or not).
};

/// What a candidate is matched on: never the ID number itself.
struct CandidateKey {
  std::string account_id;
  int id_type = 0;
  std::string id_number_index;
  std::string name;
};

struct ExamSummaryRow {
  std::string exam_id, school_name, title;
  int mode = 0;
  bool fee_required = false;
  bool materials_required = false;
};

/// Everything enrollment knows about one candidate and one exam, read at once.
struct CandidateExamState {
  ExamRow exam;
  bool eligible = false;     // A roster line matches name, ID type and ID number.
  RosterRow roster;          // Set when eligible.
  bool notice_read = false;  // The current notice version.
  bool admission_confirmed = false;
  std::string commitment_text;     // Of exam.commitment_version.
  bool commitment_signed = false;  // The current version.
};

struct QuestionRow {
  std::string id, text;
};

struct NoticeRow {
  int version = 0;
  std::string text;
  absl::Time published_at;
};

/// Enrollment's storage. Every method is one transaction. Blocking.
class EnrollmentStore {
 public:
  virtual ~EnrollmentStore() = default;

  /// ALREADY_EXISTS (details.field code) when the code is taken.
  virtual absl::StatusOr<std::string> CreateSchool(const std::string& code, const std::string& name,
                                                   const std::string& by) = 0;
  virtual absl::StatusOr<std::optional<SchoolRow>> FindSchool(const std::string& id) = 0;
  /// Every school, by code.
  virtual absl::StatusOr<std::vector<SchoolRow>> ListSchools() = 0;
  /// The school's exams, oldest first.
  virtual absl::StatusOr<std::vector<ExamRow>> ListSchoolExams(const std::string& school_id) = 0;

  /// The exam and version 1 of its commitment letter.
  virtual absl::StatusOr<std::string> CreateExam(const NewExam& exam) = 0;
  virtual absl::StatusOr<std::optional<ExamRow>> FindExam(const std::string& id) = 0;
  /// A new version of the exam's commitment letter; returns its number.
  virtual absl::StatusOr<int> AddCommitmentVersion(const std::string& exam_id,
                                                   const std::string& text,
                                                   const std::string& by) = 0;

  /// Inserts or updates (same exam, ID type and index) every row, in one transaction,
  /// imports of one exam one after another. Past `deadline` it rolls back and answers
  /// DEADLINE_EXCEEDED: a caller that gave up never finds half an import.
  virtual absl::StatusOr<RosterWriteResult> UpsertRoster(const std::string& exam_id,
                                                         const std::vector<RosterRow>& rows,
                                                         absl::Time deadline) = 0;

  virtual absl::StatusOr<std::string> AddQuestion(const std::string& exam_id,
                                                  const std::string& text,
                                                  const std::string& by) = 0;
  /// The exam's question bank, oldest first. (Not pure: fakes that do not serve the
  /// waiting room's internal calls need not implement it.)
  virtual absl::StatusOr<std::vector<QuestionRow>> ListQuestions(const std::string& exam_id) {
    return absl::UnimplementedError("ListQuestions");
  }
  /// The roster line of (exam, ID type, ID-number index); nullopt when there is none.
  virtual absl::StatusOr<std::optional<RosterRow>> FindRosterEntry(
      const std::string& exam_id, int id_type, const std::string& id_number_index) {
    return absl::UnimplementedError("FindRosterEntry");
  }

  virtual absl::StatusOr<NoticeRow> CurrentNotice() = 0;
  virtual absl::StatusOr<int> PublishNotice(const std::string& text, const std::string& by) = 0;
  /// Records the read when `version` is the current one; false when it is not.
  virtual absl::StatusOr<bool> MarkNoticeRead(const std::string& account_id, int version) = 0;
  virtual absl::StatusOr<bool> HasReadCurrentNotice(const std::string& account_id) = 0;

  virtual absl::StatusOr<std::vector<ExamSummaryRow>> ListEligibleExams(
      const CandidateKey& key) = 0;
  /// nullopt when the exam does not exist.
  virtual absl::StatusOr<std::optional<CandidateExamState>> CandidateState(
      const std::string& exam_id, const CandidateKey& key) = 0;

  /// Idempotent: the first confirmation's time stays.
  virtual absl::Status ConfirmAdmission(const std::string& exam_id,
                                        const std::string& account_id) = 0;
  /// Records the signature when `version` is the exam's current one (idempotent);
  /// false when it is not.
  virtual absl::StatusOr<bool> SignCommitment(const std::string& exam_id,
                                              const std::string& account_id, int version) = 0;
};

}  // namespace admissions::enrollment
