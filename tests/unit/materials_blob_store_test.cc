#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "gtest/gtest.h"
#include "materials/local_blob_store.h"

namespace admissions::materials {
namespace {

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    char tmpl[] = "/tmp/blobstore-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = *LocalBlobStore::Create(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  int TempFiles() {
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir_ + "/tmp")) n += e.is_regular_file();
    return n;
  }
  std::string ReadAll(const std::string& sha) {
    auto r = store_->Open(sha);
    EXPECT_TRUE(r.ok()) << r.status();
    std::string out;
    EXPECT_TRUE((*r)->ReadAt(0, (*r)->size(), &out).ok());
    return out;
  }
  std::string dir_;
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(LocalBlobStoreTest, WritesHashesAndAddressesByContent) {
  auto w = *store_->NewBlob();
  ASSERT_TRUE(w->Append("hello ").ok());
  ASSERT_TRUE(w->Append("world").ok());
  EXPECT_EQ(TempFiles(), 1);
  auto ref = w->Commit();
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->sha256, HexEncode(Sha256("hello world")));
  EXPECT_EQ(ref->size, 11);
  EXPECT_EQ(ref->head, "hello world");
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_TRUE(std::filesystem::exists(store_->BlobPath(ref->sha256)));
  EXPECT_EQ(ReadAll(ref->sha256), "hello world");
  std::string part;
  auto r = *store_->Open(ref->sha256);
  ASSERT_TRUE(r->ReadAt(6, 100, &part).ok());
  EXPECT_EQ(part, "world");
}

TEST_F(LocalBlobStoreTest, SameBytesTwiceKeepOneBlob) {
  for (int i = 0; i < 2; ++i) {
    auto w = *store_->NewBlob();
    ASSERT_TRUE(w->Append("same").ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  EXPECT_EQ(TempFiles(), 0);
  auto blobs = store_->ListBlobsOlderThan(absl::Now() + absl::Hours(1));
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(blobs->size(), 1u);
}

TEST_F(LocalBlobStoreTest, DiscardedAndDestroyedWritersLeaveNothing) {
  {
    auto w = *store_->NewBlob();
    ASSERT_TRUE(w->Append("half").ok());
    w->Discard();
  }
  {
    auto w = *store_->NewBlob();
    ASSERT_TRUE(w->Append("cut").ok());
  }
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_TRUE(store_->ListBlobsOlderThan(absl::Now() + absl::Hours(1))->empty());
}

TEST_F(LocalBlobStoreTest, HeadKeepsOnlyTheFirstBytes) {
  auto w = *store_->NewBlob();
  ASSERT_TRUE(w->Append(std::string(10000, 'x')).ok());
  EXPECT_EQ(w->head().size(), 512u);
  EXPECT_EQ(w->size(), 10000);
}

TEST_F(LocalBlobStoreTest, PartialUploadsCutBackToTheRecordedOffset) {
  {
    auto p = *store_->OpenPartial("u1", 0);
    ASSERT_TRUE(p->Append("0123456789").ok());
    ASSERT_TRUE(p->Sync().ok());
  }
  // Recorded 4; the six bytes past it were never recorded (a crash) and go.
  {
    auto p = store_->OpenPartial("u1", 4);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ((*p)->size(), 4);
    ASSERT_TRUE((*p)->Append("abcdef").ok());
    ASSERT_TRUE((*p)->Sync().ok());
  }
  EXPECT_EQ(store_->OpenPartial("u1", 11).status().code(), absl::StatusCode::kDataLoss);
  auto ref = store_->CommitPartial("u1");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->sha256, HexEncode(Sha256("0123abcdef")));
  EXPECT_EQ(ref->size, 10);
  EXPECT_EQ(ReadAll(ref->sha256), "0123abcdef");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/uploads/u1"));
  EXPECT_TRUE(store_->RemovePartial("u1").ok());  // Gone already: fine.
}

TEST_F(LocalBlobStoreTest, SweepRemovesOnlyOldBlobsAndTempFiles) {
  auto w = *store_->NewBlob();
  ASSERT_TRUE(w->Append("orphan").ok());
  auto ref = *w->Commit();
  auto keep = *store_->NewBlob();  // In progress.
  ASSERT_TRUE(keep->Append("x").ok());
  const absl::Time now = absl::Now();
  EXPECT_TRUE(store_->ListBlobsOlderThan(now - absl::Hours(1))->empty());
  ASSERT_TRUE(store_->RemoveBlobIfOlderThan(ref.sha256, now - absl::Hours(1)).ok());
  EXPECT_TRUE(std::filesystem::exists(store_->BlobPath(ref.sha256)));  // Too young.
  EXPECT_EQ(*store_->RemoveTempFilesOlderThan(now - absl::Hours(1)), 0);
  auto later = now + absl::Hours(2);
  auto old = store_->ListBlobsOlderThan(later);
  ASSERT_EQ(old->size(), 1u);
  ASSERT_TRUE(store_->RemoveBlobIfOlderThan(ref.sha256, later).ok());
  EXPECT_FALSE(std::filesystem::exists(store_->BlobPath(ref.sha256)));
  EXPECT_EQ(*store_->RemoveTempFilesOlderThan(later), 1);
  EXPECT_EQ(store_->Open(ref.sha256).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->Open("../../etc/passwd").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace admissions::materials
