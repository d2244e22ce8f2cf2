#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace admissions::materials {

/// A blob once it is durably in the store.
struct BlobRef {
  std::string sha256;  // Lowercase hex; the blob's address.
  int64_t size = 0;
  std::string head;  // Its first bytes (up to kSniffBytes), for format sniffing.
};

/// A new blob being written in one go: the bytes are appended in order and hashed as they
/// come, so memory stays bounded whatever the size. Destroying an uncommitted writer
/// discards what it wrote.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  virtual int64_t size() const = 0;
  /// The first bytes written so far (up to kSniffBytes).
  virtual const std::string& head() const = 0;
  /// Makes the blob durable under its SHA-256 (an identical blob already stored is kept and
  /// this copy dropped). After Commit the writer is spent.
  virtual absl::StatusOr<BlobRef> Commit() = 0;
  /// Drops what was written (a cancelled or refused upload).
  virtual void Discard() = 0;
};

/// The partial file of a resumable upload. Appends are not durable until Sync returns.
class PartialBlob {
 public:
  virtual ~PartialBlob() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  /// fsync: everything appended so far survives a crash once this returns OK.
  virtual absl::Status Sync() = 0;
  /// Bytes in the file (durable or not).
  virtual int64_t size() const = 0;
};

/// A stored blob opened for reading.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual int64_t size() const = 0;
  /// Reads up to `n` bytes at `offset` into `out` (replacing its contents).
  virtual absl::Status ReadAt(int64_t offset, size_t n, std::string* out) = 0;
};

/// Where the bytes of materials live. The local-directory form is LocalBlobStore; an
/// S3-compatible form would map NewBlob to a multipart upload (hashing as the parts go),
/// OpenPartial to an object per upload, and Sweep to a bucket listing (docs/materials.md).
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> NewBlob() = 0;
  virtual absl::StatusOr<std::unique_ptr<BlobReader>> Open(const std::string& sha256) = 0;

  /// The partial file of resumable upload `upload_id`, cut back to `durable_offset` (what
  /// PostgreSQL records), so that bytes written but never recorded (a crash between the
  /// write and the record) are dropped. Created empty when `durable_offset` is 0.
  /// DATA_LOSS when the file holds less than `durable_offset`.
  virtual absl::StatusOr<std::unique_ptr<PartialBlob>> OpenPartial(const std::string& upload_id,
                                                                   int64_t durable_offset) = 0;
  /// Moves a complete partial file into the store under its SHA-256 (read back once to hash).
  virtual absl::StatusOr<BlobRef> CommitPartial(const std::string& upload_id) = 0;
  /// Removes a partial file; OK when it does not exist.
  virtual absl::Status RemovePartial(const std::string& upload_id) = 0;

  /// Blobs last written before `before` (candidates for the orphan sweep).
  virtual absl::StatusOr<std::vector<std::string>> ListBlobsOlderThan(absl::Time before) = 0;
  /// Removes a blob unless it was written (or re-committed) at or after `before`.
  virtual absl::Status RemoveBlobIfOlderThan(const std::string& sha256, absl::Time before) = 0;
  /// Removes abandoned temporary files older than `before`; returns how many.
  virtual absl::StatusOr<int> RemoveTempFilesOlderThan(absl::Time before) = 0;
};

}  // namespace admissions::materials
