#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/v1/annotations.pb.h"
#include "common/caller.h"
#include "enrollment/v1/enrollment.pb.h"
#include "materials/blob_store.h"
#include "common/enrollment_client.h"
#include "materials/materials_store.h"
#include "materials/v1/materials.pb.h"

namespace admissions::materials {

struct MaterialsOptions {
  /// How long a resumable upload may stay incomplete before the sweep removes it.
  absl::Duration upload_ttl = absl::Hours(24);
  /// The largest per-file limit a requirement may set.
  int64_t max_file_bytes = int64_t{4} << 30;
  /// A resumable append records its offset at least every this many bytes, so that a
  /// crash loses at most this much of a long body.
  int64_t checkpoint_bytes = int64_t{4} << 20;
  /// Blobs no item references are removed once older than this (an upload committing the
  /// same bytes refreshes the blob's time, so it is never swept under an item being added).
  absl::Duration orphan_grace = absl::Hours(1);
  /// Abandoned temporary files are removed once untouched this long (longer than any
  /// upload call's deadline).
  absl::Duration temp_file_age = absl::Hours(2);
};

/// The materials domain: requirements, items, streamed and resumable uploads, submit,
/// review, the MATERIALS journey step and the sweep. No gRPC types: the adapter streams
/// bytes between the Begin/Finish steps.
class MaterialsLogic {
 public:
  MaterialsLogic(MaterialsStore* store, BlobStore* blobs, EnrollmentClient* enrollment,
                 MaterialsOptions options = {}, std::function<absl::Time()> clock = absl::Now);

  absl::StatusOr<v1::CreateRequirementResponse> CreateRequirement(
      const Caller& caller, const CallContext& call, const v1::CreateRequirementRequest& req);
  absl::StatusOr<v1::ListRequirementsResponse> ListRequirements(
      const Caller& caller, const CallContext& call, const v1::ListRequirementsRequest& req);
  absl::StatusOr<v1::MaterialsState> GetMaterials(const Caller& caller, const CallContext& call,
                                                  const v1::GetMaterialsRequest& req);
  absl::StatusOr<v1::PutTextResponse> PutText(const Caller& caller, const CallContext& call,
                                              const v1::PutTextRequest& req);
  absl::StatusOr<v1::DeleteItemResponse> DeleteItem(const Caller& caller, const CallContext& call,
                                                    const v1::DeleteItemRequest& req);
  absl::StatusOr<v1::SubmitResponse> Submit(const Caller& caller, const CallContext& call,
                                            const v1::SubmitRequest& req);
  absl::StatusOr<v1::Upload> CreateUpload(const Caller& caller, const CallContext& call,
                                          const v1::CreateUploadRequest& req);
  absl::StatusOr<v1::Upload> GetUpload(const Caller& caller, const v1::GetUploadRequest& req);
  absl::StatusOr<v1::CancelUploadResponse> CancelUpload(const Caller& caller,
                                                        const v1::CancelUploadRequest& req);
  absl::StatusOr<v1::ListSubmissionsResponse> ListSubmissions(
      const Caller& caller, const CallContext& call, const v1::ListSubmissionsRequest& req);
  absl::StatusOr<v1::CandidateMaterials> GetCandidateMaterials(
      const Caller& caller, const CallContext& call, const v1::GetCandidateMaterialsRequest& req);
  absl::StatusOr<v1::ReviewResponse> Review(const Caller& caller, const CallContext& call,
                                            const v1::ReviewRequest& req);
  /// enrollment.v1.JourneyStepSource for MATERIALS.
  absl::StatusOr<enrollment::v1::CandidateStep> GetCandidateStep(
      const enrollment::v1::GetCandidateStepRequest& req);

  // ---- A whole file in one streamed call (UploadFile).

  struct FileUpload {
    std::string exam_id, account_id, filename;
    RequirementRow requirement;
    std::vector<std::string> formats;  // Allowed.
    int64_t declared = -1;             // Content-Length; -1 when chunked.
  };
  /// Checks everything that can be checked before a byte is read: the caller, the window,
  /// the requirement, the filename, the count limit and a declared Content-Length.
  absl::StatusOr<FileUpload> BeginFile(const Caller& caller, const CallContext& call,
                                       const v1::UploadFileRequest& first);
  /// PAYLOAD_TOO_LARGE as soon as `total` passes the limit.
  absl::Status CheckSize(const FileUpload& upload, int64_t total) const;
  /// UNSUPPORTED_FORMAT once `head` has enough bytes (or the body has ended, `complete`)
  /// and its magic bytes are not of an allowed format. OK while undecided.
  absl::Status CheckHead(const FileUpload& upload, const std::string& head, bool complete) const;
  /// Commits the blob (durable under its SHA-256), then adds the item. A body shorter than
  /// its declared Content-Length (a cut the transport did not report) is refused.
  absl::StatusOr<v1::UploadFileResponse> FinishFile(const FileUpload& upload, BlobWriter* writer);
  BlobStore* blobs() { return blobs_; }

  // ---- Appending to a resumable upload (AppendUpload).

  /// One append in progress. Holds the upload against concurrent appends (this process)
  /// until destroyed.
  class Append {
   public:
    ~Append();
    const UploadRow& upload() const { return upload_; }
    int64_t size() const { return file_->size(); }

   private:
    friend class MaterialsLogic;
    Append() = default;
    MaterialsLogic* logic_ = nullptr;
    UploadRow upload_;
    RequirementRow requirement_;
    std::unique_ptr<PartialBlob> file_;
    int64_t recorded_ = 0;
  };
  /// Checks the caller, the upload, Upload-Offset (OFFSET_MISMATCH unless it is the
  /// recorded offset; nothing changes) and a declared Content-Length, and opens the partial
  /// file cut back to the recorded offset.
  absl::StatusOr<std::unique_ptr<Append>> BeginAppend(const Caller& caller, const CallContext& call,
                                                      const v1::AppendUploadRequest& first);
  /// Writes a piece (PAYLOAD_TOO_LARGE past the declared size), recording the offset every
  /// checkpoint_bytes.
  absl::Status AppendChunk(Append& append, std::string_view chunk);
  /// The body ended or the call was cut (`cancelled`): fsyncs and records what arrived.
  /// When the upload is whole (and not cancelled), finalises it into an item exactly as
  /// UploadFile does; a refused file removes the upload.
  absl::StatusOr<v1::Upload> EndAppend(Append& append, bool cancelled);

  // ---- Downloads (GetItemContent).

  struct Content {
    api::v1::HttpResponseHead head;
    std::unique_ptr<BlobReader> reader;  // Null when there is no body (416).
    int64_t offset = 0;
    int64_t remaining = 0;
  };
  absl::StatusOr<Content> OpenContent(const Caller& caller, const CallContext& call,
                                      const v1::GetItemContentRequest& req);

  /// Removes expired uploads, orphaned blobs and abandoned temporary files.
  absl::Status Sweep();

 private:
  absl::StatusOr<enrollment::v1::Exam> CandidateExam(const Caller& caller, const CallContext& call,
                                                     const std::string& exam_id);
  absl::StatusOr<enrollment::v1::Exam> StaffExam(const Caller& caller, const CallContext& call,
                                                 const std::string& exam_id);
  absl::Status CheckEditable(const enrollment::v1::Exam& exam, const std::string& account_id);
  absl::StatusOr<RequirementRow> FileRequirement(const std::string& exam_id,
                                                 const std::string& requirement_id);
  absl::StatusOr<v1::MaterialsState> State(const enrollment::v1::Exam& exam,
                                           const std::string& account_id);
  absl::StatusOr<UploadRow> OwnUpload(const Caller& caller, const std::string& exam_id,
                                      const std::string& upload_id);
  absl::Status Checkpoint(Append& append);
  absl::StatusOr<v1::Upload> Finalise(Append& append);
  bool Claim(const std::string& upload_id);
  void Release(const std::string& upload_id);

  MaterialsStore* store_;
  BlobStore* blobs_;
  EnrollmentClient* enrollment_;
  MaterialsOptions options_;
  std::function<absl::Time()> clock_;
  std::mutex mu_;
  std::set<std::string> appending_ ABSL_GUARDED_BY(mu_);
};

/// The formats a requirement accepts: its own list, or its kind's defaults.
std::vector<std::string> AllowedFormats(const RequirementRow& r);

}  // namespace admissions::materials
