#pragma once

#include <string>

#include "materials/blob_store.h"

namespace admissions::materials {

/// BlobStore on a local directory:
///   <dir>/blobs/ab/cd/<sha256>   content-addressed, read-only once in place
///   <dir>/tmp/<random>           blobs being written (fsync, then rename into blobs/)
///   <dir>/uploads/<upload id>    partial files of resumable uploads
/// Renames stay inside one file system, so a blob appears whole or not at all; the
/// directories are fsynced after a rename so that the rename itself survives a crash.
class LocalBlobStore final : public BlobStore {
 public:
  /// Creates the directories when missing.
  static absl::StatusOr<std::unique_ptr<LocalBlobStore>> Create(const std::string& dir);

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewBlob() override;
  absl::StatusOr<std::unique_ptr<BlobReader>> Open(const std::string& sha256) override;
  absl::StatusOr<std::unique_ptr<PartialBlob>> OpenPartial(const std::string& upload_id,
                                                           int64_t durable_offset) override;
  absl::StatusOr<BlobRef> CommitPartial(const std::string& upload_id) override;
  absl::Status RemovePartial(const std::string& upload_id) override;
  absl::StatusOr<std::vector<std::string>> ListBlobsOlderThan(absl::Time before) override;
  absl::Status RemoveBlobIfOlderThan(const std::string& sha256, absl::Time before) override;
  absl::StatusOr<int> RemoveTempFilesOlderThan(absl::Time before) override;

  const std::string& dir() const { return dir_; }
  /// Where blob `sha256` lives (for tests and operations).
  std::string BlobPath(const std::string& sha256) const;
  /// Moves a fully written, fsynced file into the store under `sha256`.
  absl::Status Install(const std::string& temp_path, const std::string& sha256);

 private:
  explicit LocalBlobStore(std::string dir) : dir_(std::move(dir)) {}
  std::string PartialPath(const std::string& upload_id) const;
  std::string dir_;
};

/// True for a 64-character lowercase hex string (a blob address).
bool IsSha256Hex(const std::string& s);

}  // namespace admissions::materials
