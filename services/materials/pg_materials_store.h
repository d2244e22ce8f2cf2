#pragma once

#include "common/pg.h"
#include "materials/materials_store.h"

namespace admissions::materials {

/// MaterialsStore on PostgreSQL (schema `materials`).
class PgMaterialsStore final : public MaterialsStore {
 public:
  PgMaterialsStore(const std::string& uri, int pool_size);

  absl::StatusOr<std::string> CreateRequirement(const RequirementRow& r) override;
  absl::StatusOr<std::vector<RequirementRow>> ListRequirements(const std::string& exam_id) override;
  absl::StatusOr<RequirementRow> GetRequirement(const std::string& exam_id,
                                                const std::string& requirement_id) override;
  absl::StatusOr<SubmissionRow> GetSubmission(const std::string& exam_id,
                                              const std::string& account_id) override;
  absl::StatusOr<std::vector<ItemRow>> ListItems(const std::string& exam_id,
                                                 const std::string& account_id) override;
  absl::StatusOr<ItemRow> GetItem(const std::string& item_id) override;
  absl::StatusOr<int> CountEditable(const std::string& exam_id, const std::string& account_id,
                                    const std::string& requirement_id) override;
  absl::StatusOr<ItemRow> AddItem(const ItemRow& item, int max_count, bool replace,
                                  const std::string& upload_id) override;
  absl::Status DeleteItem(const std::string& exam_id, const std::string& account_id,
                          const std::string& item_id) override;
  absl::StatusOr<SubmissionRow> Submit(const std::string& exam_id,
                                       const std::string& account_id) override;
  absl::StatusOr<SubmissionRow> Review(const std::string& exam_id, const std::string& account_id,
                                       const ReviewRow& decision) override;
  absl::StatusOr<std::vector<ReviewRow>> ListReviews(const std::string& exam_id,
                                                     const std::string& account_id) override;
  absl::StatusOr<std::vector<SubmissionSummaryRow>> ListSubmissions(
      const std::string& exam_id, const std::string& status) override;
  absl::StatusOr<UploadRow> CreateUpload(const UploadRow& u) override;
  absl::StatusOr<UploadRow> GetUpload(const std::string& upload_id) override;
  absl::Status RecordUploadOffset(const std::string& upload_id, int64_t offset) override;
  absl::Status DeleteUpload(const std::string& upload_id) override;
  absl::StatusOr<std::vector<std::string>> ListExpiredUploads(absl::Time now, int limit) override;
  absl::StatusOr<std::set<std::string>> ReferencedBlobs(
      const std::vector<std::string>& sha256s) override;

  bool Ping() { return pool_.Ping(); }

 private:
  PgPool pool_;
};

/// True for the canonical text form of a UUID.
bool IsUuid(const std::string& s);

}  // namespace admissions::materials
