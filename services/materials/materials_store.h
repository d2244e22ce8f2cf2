#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace admissions::materials {

struct RequirementRow {
  std::string id;
  std::string exam_id;
  std::string school_id;
  std::string kind;  // VIDEO, AUDIO, IMAGE, TEXT, OTHER
  std::string title;
  std::string description;
  std::vector<std::string> formats;  // Canonical; empty: the kind's defaults.
  int min_count = 0;
  int max_count = 1;
  int64_t max_bytes = 0;
  bool required = false;
  std::string created_by;
};

struct ItemRow {
  std::string id;
  std::string exam_id;
  std::string account_id;
  std::string requirement_id;
  std::string filename;
  int64_t size_bytes = 0;
  std::string sha256;  // '' for text.
  std::string format;  // As sniffed, or "text".
  std::string content_type;
  std::optional<std::string> text;
  absl::Time created_at;
};

struct SubmissionRow {
  std::string status = "DRAFT";  // DRAFT, SUBMITTED, RETURNED, APPROVED
  std::string return_reason;
  std::optional<absl::Time> submitted_at;
};

struct UploadRow {
  std::string id;
  std::string exam_id;
  std::string account_id;
  std::string requirement_id;
  std::string filename;
  int64_t size_bytes = 0;
  int64_t offset = 0;
  absl::Time expires_at;
  bool complete = false;
  std::string item_id;
  std::string sha256;
};

struct ReviewRow {
  std::string decision;  // APPROVE, RETURN
  std::string reason;
  std::string reviewer_id;
  absl::Time decided_at;
};

struct SubmissionSummaryRow {
  std::string account_id;
  std::string status;
  std::optional<absl::Time> submitted_at;
  int item_count = 0;
};

/// The materials service's storage. Every method is one transaction. The methods that
/// change a candidate's materials lock the candidate's submission row first (creating it
/// as DRAFT when missing), so that changes and a submit are serialised: a change refused
/// with FAILED_PRECONDITION ALREADY_SUBMITTED once the status is SUBMITTED or APPROVED.
class MaterialsStore {
 public:
  virtual ~MaterialsStore() = default;

  virtual absl::StatusOr<std::string> CreateRequirement(const RequirementRow& r) = 0;
  virtual absl::StatusOr<std::vector<RequirementRow>> ListRequirements(
      const std::string& exam_id) = 0;
  /// NOT_FOUND (REQUIREMENT_NOT_FOUND) when unknown or of another exam.
  virtual absl::StatusOr<RequirementRow> GetRequirement(const std::string& exam_id,
                                                        const std::string& requirement_id) = 0;

  virtual absl::StatusOr<SubmissionRow> GetSubmission(const std::string& exam_id,
                                                      const std::string& account_id) = 0;
  virtual absl::StatusOr<std::vector<ItemRow>> ListItems(const std::string& exam_id,
                                                         const std::string& account_id) = 0;
  /// NOT_FOUND when unknown.
  virtual absl::StatusOr<ItemRow> GetItem(const std::string& item_id) = 0;
  /// How many items the candidate has for the requirement, and whether they may change
  /// (the status check without the lock, for refusing early before bytes are read).
  virtual absl::StatusOr<int> CountEditable(const std::string& exam_id,
                                            const std::string& account_id,
                                            const std::string& requirement_id) = 0;

  /// Adds an item: refused ALREADY_SUBMITTED, or FAILED_PRECONDITION COUNT_LIMIT when the
  /// requirement already has `max_count` items, unless `replace` (a TEXT requirement
  /// taking one text: the old one is replaced). When `upload_id` is set the upload is
  /// marked complete in the same transaction.
  virtual absl::StatusOr<ItemRow> AddItem(const ItemRow& item, int max_count, bool replace,
                                          const std::string& upload_id) = 0;
  /// Deletes the candidate's item (NOT_FOUND when not theirs); refused ALREADY_SUBMITTED.
  virtual absl::Status DeleteItem(const std::string& exam_id, const std::string& account_id,
                                  const std::string& item_id) = 0;
  /// DRAFT or RETURNED → SUBMITTED when every required requirement of the exam has at
  /// least its minimum: otherwise FAILED_PRECONDITION REQUIREMENTS_UNMET with details
  /// naming each one missing.
  virtual absl::StatusOr<SubmissionRow> Submit(const std::string& exam_id,
                                               const std::string& account_id) = 0;
  /// SUBMITTED → APPROVED or RETURNED, with the decision appended to the history;
  /// FAILED_PRECONDITION NOT_SUBMITTED otherwise.
  virtual absl::StatusOr<SubmissionRow> Review(const std::string& exam_id,
                                               const std::string& account_id,
                                               const ReviewRow& decision) = 0;
  virtual absl::StatusOr<std::vector<ReviewRow>> ListReviews(const std::string& exam_id,
                                                             const std::string& account_id) = 0;
  /// `status` empty: every status but DRAFT.
  virtual absl::StatusOr<std::vector<SubmissionSummaryRow>> ListSubmissions(
      const std::string& exam_id, const std::string& status) = 0;

  virtual absl::StatusOr<UploadRow> CreateUpload(const UploadRow& u) = 0;
  /// NOT_FOUND (UPLOAD_NOT_FOUND) when unknown.
  virtual absl::StatusOr<UploadRow> GetUpload(const std::string& upload_id) = 0;
  /// Records what is durably in the partial file; never moves backwards.
  virtual absl::Status RecordUploadOffset(const std::string& upload_id, int64_t offset) = 0;
  virtual absl::Status DeleteUpload(const std::string& upload_id) = 0;
  /// Incomplete uploads past their expiry.
  virtual absl::StatusOr<std::vector<std::string>> ListExpiredUploads(absl::Time now,
                                                                      int limit) = 0;
  /// Which of `sha256s` some item references.
  virtual absl::StatusOr<std::set<std::string>> ReferencedBlobs(
      const std::vector<std::string>& sha256s) = 0;
};

}  // namespace admissions::materials
