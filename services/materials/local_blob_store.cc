#include "materials/local_blob_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status.h"
#include "materials/sniff.h"

namespace admissions::materials {
namespace {

namespace fs = std::filesystem;

// SHA-256 through OpenSSL's EVP interface, which uses the CPU's SHA extensions: about
// 5x libsodium's portable code here (1.7 GB/s against 344 MiB/s), and hashing was a third
// of the materials service's CPU time per upload (docs/performance.md).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const char* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  /// Lowercase hex of the digest.
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    return HexEncode(std::string(reinterpret_cast<const char*>(digest), len));
  }

 private:
  EVP_MD_CTX* ctx_;
};

absl::Status Errno(const char* what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open dir", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync dir", dir);
  return absl::OkStatus();
}

// mkdir -p for the two fan-out levels, fsyncing each parent that gained an entry.
absl::Status EnsureDir(const std::string& parent, const std::string& name) {
  std::string path = parent + "/" + name;
  if (::mkdir(path.c_str(), 0750) == 0) return FsyncDir(parent);
  if (errno == EEXIST) return absl::OkStatus();
  return Errno("mkdir", path);
}

absl::Time MtimeOf(const struct stat& st) {
  return absl::FromUnixSeconds(st.st_mtim.tv_sec) + absl::Nanoseconds(st.st_mtim.tv_nsec);
}

class LocalWriter final : public BlobWriter {
 public:
  LocalWriter(LocalBlobStore* store, std::string path, int fd)
      : store_(store), path_(std::move(path)), fd_(fd) {}
  ~LocalWriter() override { Discard(); }

  absl::Status Append(std::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError("blob writer is closed");
    RETURN_IF_ERROR(WriteAll(fd_, data, path_));
    sha_.Update(data.data(), data.size());
    if (head_.size() < kSniffBytes) {
      head_.append(data.substr(0, kSniffBytes - head_.size()));
    }
    size_ += static_cast<int64_t>(data.size());
    return absl::OkStatus();
  }
  int64_t size() const override { return size_; }
  const std::string& head() const override { return head_; }

  absl::StatusOr<BlobRef> Commit() override {
    if (fd_ < 0) return absl::FailedPreconditionError("blob writer is closed");
    if (::fsync(fd_) != 0) {
      auto st = Errno("fsync", path_);
      Discard();
      return st;
    }
    ::close(fd_);
    fd_ = -1;
    BlobRef ref{sha_.HexDigest(), size_, head_};
    auto st = store_->Install(path_, ref.sha256);
    if (!st.ok()) {
      ::unlink(path_.c_str());
      return st;
    }
    path_.clear();
    return ref;
  }

  void Discard() override {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!path_.empty()) {
      ::unlink(path_.c_str());
      path_.clear();
    }
  }

 private:
  LocalBlobStore* store_;
  std::string path_;
  int fd_;
  Sha256 sha_;
  std::string head_;
  int64_t size_ = 0;
};

class LocalPartial final : public PartialBlob {
 public:
  LocalPartial(std::string path, int fd, int64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~LocalPartial() override { ::close(fd_); }
  absl::Status Append(std::string_view data) override {
    RETURN_IF_ERROR(WriteAll(fd_, data, path_));
    size_ += static_cast<int64_t>(data.size());
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    return absl::OkStatus();
  }
  int64_t size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  int64_t size_;
};

class LocalReader final : public BlobReader {
 public:
  LocalReader(std::string path, int fd, int64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~LocalReader() override { ::close(fd_); }
  int64_t size() const override { return size_; }
  absl::Status ReadAt(int64_t offset, size_t n, std::string* out) override {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out->data() + got, n - got, offset + static_cast<int64_t>(got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Errno("pread", path_);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_;
  int64_t size_;
};

}  // namespace

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<LocalBlobStore>> LocalBlobStore::Create(const std::string& dir) {
  std::error_code ec;
  for (const char* sub : {"blobs", "tmp", "uploads"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot create ", dir, "/", sub, ": ", ec.message()));
    }
  }
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(fs::absolute(dir).string()));
}

std::string LocalBlobStore::BlobPath(const std::string& sha256) const {
  return absl::StrCat(dir_, "/blobs/", sha256.substr(0, 2), "/", sha256.substr(2, 2), "/", sha256);
}

std::string LocalBlobStore::PartialPath(const std::string& upload_id) const {
  return absl::StrCat(dir_, "/uploads/", upload_id);
}

absl::Status LocalBlobStore::Install(const std::string& temp_path, const std::string& sha256) {
  const std::string blobs = dir_ + "/blobs";
  RETURN_IF_ERROR(EnsureDir(blobs, sha256.substr(0, 2)));
  const std::string level1 = blobs + "/" + sha256.substr(0, 2);
  RETURN_IF_ERROR(EnsureDir(level1, sha256.substr(2, 2)));
  const std::string final_path = BlobPath(sha256);
  struct stat st;
  if (::stat(final_path.c_str(), &st) == 0) {
    // Same bytes already stored: keep that copy, and mark it fresh so that an orphan
    // sweep running now leaves it alone for the item about to reference it.
    ::unlink(temp_path.c_str());
    ::utimensat(AT_FDCWD, final_path.c_str(), nullptr, 0);
    return absl::OkStatus();
  }
  ::chmod(temp_path.c_str(), 0440);
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) return Errno("rename", final_path);
  return FsyncDir(level1 + "/" + sha256.substr(2, 2));
}

absl::StatusOr<std::unique_ptr<BlobWriter>> LocalBlobStore::NewBlob() {
  std::string path = absl::StrCat(dir_, "/tmp/", HexEncode(RandomBytes(16)));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("create", path);
  return std::unique_ptr<BlobWriter>(new LocalWriter(this, std::move(path), fd));
}

absl::StatusOr<std::unique_ptr<BlobReader>> LocalBlobStore::Open(const std::string& sha256) {
  if (!IsSha256Hex(sha256)) return absl::NotFoundError("no such blob");
  std::string path = BlobPath(sha256);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::DataLossError("the item's blob is missing");
    return Errno("open", path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Errno("fstat", path);
  }
  return std::unique_ptr<BlobReader>(new LocalReader(std::move(path), fd, st.st_size));
}

absl::StatusOr<std::unique_ptr<PartialBlob>> LocalBlobStore::OpenPartial(
    const std::string& upload_id, int64_t durable_offset) {
  std::string path = PartialPath(upload_id);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Errno("fstat", path);
  }
  if (st.st_size < durable_offset) {
    ::close(fd);
    return absl::DataLossError(
        absl::StrCat("partial upload ", upload_id, " holds less than its recorded offset"));
  }
  if (st.st_size > durable_offset && ::ftruncate(fd, durable_offset) != 0) {
    ::close(fd);
    return Errno("ftruncate", path);
  }
  if (::lseek(fd, durable_offset, SEEK_SET) < 0) {
    ::close(fd);
    return Errno("lseek", path);
  }
  return std::unique_ptr<PartialBlob>(new LocalPartial(std::move(path), fd, durable_offset));
}

absl::StatusOr<BlobRef> LocalBlobStore::CommitPartial(const std::string& upload_id) {
  std::string path = PartialPath(upload_id);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  Sha256 sha;
  BlobRef ref;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Errno("read", path);
    }
    if (n == 0) break;
    sha.Update(buf.data(), static_cast<size_t>(n));
    if (ref.head.size() < kSniffBytes) {
      ref.head.append(buf.data(),
                      std::min<size_t>(static_cast<size_t>(n), kSniffBytes - ref.head.size()));
    }
    ref.size += n;
  }
  ::close(fd);
  ref.sha256 = sha.HexDigest();
  // The partial file was fdatasynced before its last offset was recorded.
  RETURN_IF_ERROR(Install(path, ref.sha256));
  return ref;
}

absl::Status LocalBlobStore::RemovePartial(const std::string& upload_id) {
  std::string path = PartialPath(upload_id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LocalBlobStore::ListBlobsOlderThan(absl::Time before) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_ + "/blobs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    if (!IsSha256Hex(name)) continue;
    struct stat st;
    if (::stat(it->path().c_str(), &st) == 0 && MtimeOf(st) < before) out.push_back(name);
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list blobs: ", ec.message()));
  return out;
}

absl::Status LocalBlobStore::RemoveBlobIfOlderThan(const std::string& sha256, absl::Time before) {
  if (!IsSha256Hex(sha256)) return absl::InvalidArgumentError("not a blob address");
  std::string path = BlobPath(sha256);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (MtimeOf(st) >= before) return absl::OkStatus();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path);
  return absl::OkStatus();
}

absl::StatusOr<int> LocalBlobStore::RemoveTempFilesOlderThan(absl::Time before) {
  int removed = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_ + "/tmp", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    struct stat st;
    if (::stat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && MtimeOf(st) < before) {
      if (::unlink(it->path().c_str()) == 0) ++removed;
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list temp files: ", ec.message()));
  return removed;
}

}  // namespace admissions::materials
