#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/image/content_store.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::image {
namespace {

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/berth-content-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    // Canonical ("/tmp//x" or a symlinked TMPDIR would not match what /proc/self/fd shows).
    char* real = ::realpath(tmpl.c_str(), nullptr);
    ASSERT_NE(real, nullptr);
    dir_ = real;
    std::free(real);
    store_ = std::make_unique<ContentStore>(dir_ + "/store");
    ASSERT_TRUE(store_->Init().ok());
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  std::vector<std::string> Ingest() const { return ListDirectory(dir_ + "/store/ingest"); }

  std::string dir_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(ContentStoreTest, InitMakesDirsAndClearsIngestLeftovers) {
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/store/blobs/sha256").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/store/ingest/blob-leftover", "partial").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/store/ingest/somedir/deeper").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/store/ingest/somedir/deeper/f", "x").ok());
  absl::StatusOr<std::string> kept = store_->Put("committed");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(Ingest().size(), 2u);

  ContentStore again(dir_ + "/store");
  ASSERT_TRUE(again.Init().ok());
  EXPECT_TRUE(Ingest().empty());
  // Committed blobs stay.
  EXPECT_TRUE(again.Has(*kept));
}

TEST_F(ContentStoreTest, WriterCommitsVerifiedBlob) {
  absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
  ASSERT_TRUE(w.ok()) << w.status();
  std::string data;
  for (int i = 0; i < 1000; ++i) {
    std::string piece = absl::StrCat("chunk ", i, "\n");
    ASSERT_TRUE(w->Write(piece).ok());
    data += piece;
  }
  EXPECT_EQ(w->size(), static_cast<int64_t>(data.size()));
  std::string digest = Sha256Of(data);
  EXPECT_FALSE(store_->Has(digest));
  absl::StatusOr<std::string> committed = w->Commit(digest, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(*committed, digest);

  EXPECT_TRUE(store_->Has(digest));
  EXPECT_EQ(store_->BlobPath(digest), dir_ + "/store/blobs/sha256/" + DigestHex(digest));
  EXPECT_EQ(*store_->Size(digest), static_cast<int64_t>(data.size()));
  EXPECT_EQ(*store_->ReadVerified(digest), data);
  EXPECT_EQ(*ReadFile(store_->BlobPath(digest)), data);
  EXPECT_EQ(store_->List(), std::vector<std::string>{digest});
  EXPECT_TRUE(Ingest().empty());

  // Committed blobs are read-only.
  struct stat st;
  ASSERT_EQ(::stat(store_->BlobPath(digest).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);

  // The writer is finished.
  EXPECT_EQ(w->Write("more").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(w->Commit(digest).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ContentStoreTest, DigestMismatchLeavesNothing) {
  absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Write("actual content").ok());
  EXPECT_EQ(Ingest().size(), 1u);
  std::string expected = Sha256Of("expected content");
  absl::StatusOr<std::string> r = w->Commit(expected);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), expected)) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), Sha256Of("actual content"))) << r.status();
  EXPECT_FALSE(store_->Has(expected));
  EXPECT_FALSE(store_->Has(Sha256Of("actual content")));
  EXPECT_TRUE(store_->List().empty());
  // The temp file is gone right away, not only when the writer is destroyed.
  EXPECT_TRUE(Ingest().empty());
  EXPECT_EQ(w->Write("x").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ContentStoreTest, SizeMismatchLeavesNothing) {
  absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Write("abc").ok());
  absl::StatusOr<std::string> r = w->Commit(Sha256Of("abc"), 4);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "size")) << r.status();
  EXPECT_FALSE(store_->Has(Sha256Of("abc")));
  EXPECT_TRUE(Ingest().empty());
}

TEST_F(ContentStoreTest, InvalidExpectedDigestKeepsWriterUsable) {
  absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Write("abc").ok());
  EXPECT_EQ(w->Commit("sha256:nope").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(w->Commit(Sha256Of("abc")).ok());
}

TEST_F(ContentStoreTest, AbandonedWriterRemovesTempFile) {
  {
    absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Write("half a download").ok());
    EXPECT_EQ(Ingest().size(), 1u);
  }
  EXPECT_TRUE(Ingest().empty());
  EXPECT_TRUE(store_->List().empty());
}

TEST_F(ContentStoreTest, MovedWriterKeepsItsTempFile) {
  absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Write("ab").ok());
  ContentStore::Writer moved = std::move(*w);
  w = absl::UnknownError("gone");  // destroys the moved-from writer
  EXPECT_EQ(Ingest().size(), 1u);
  ASSERT_TRUE(moved.Write("c").ok());
  EXPECT_EQ(moved.size(), 3);
  ASSERT_TRUE(moved.Commit(Sha256Of("abc"), 3).ok());
  EXPECT_EQ(*store_->ReadVerified(Sha256Of("abc")), "abc");

  // Move-assigning over an open writer drops the old one's temp file.
  absl::StatusOr<ContentStore::Writer> a = store_->NewWriter();
  absl::StatusOr<ContentStore::Writer> b = store_->NewWriter();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Ingest().size(), 2u);
  *a = std::move(*b);
  EXPECT_EQ(Ingest().size(), 1u);
}

TEST_F(ContentStoreTest, ResetStartsOver) {
  absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Write("a failed download that got this far").ok());
  ASSERT_TRUE(w->Reset().ok());
  EXPECT_EQ(w->size(), 0);
  ASSERT_TRUE(w->Write("the ").ok());
  ASSERT_TRUE(w->Write("retry").ok());
  absl::StatusOr<std::string> r = w->Commit(Sha256Of("the retry"), 9);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*ReadFile(store_->BlobPath(*r)), "the retry");
}

TEST_F(ContentStoreTest, TempFileIsCloseOnExec) {
  absl::StatusOr<ContentStore::Writer> w = store_->NewWriter();
  ASSERT_TRUE(w.ok());
  std::string ingest = dir_ + "/store/ingest/";
  int found = 0;
  for (const std::string& name : ListDirectory("/proc/self/fd")) {
    char target[4096];
    ssize_t n = ::readlink(("/proc/self/fd/" + name).c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (!absl::StartsWith(target, ingest)) continue;
    ++found;
    int fd = 0;
    ASSERT_TRUE(absl::SimpleAtoi(name, &fd));
    int flags = ::fcntl(fd, F_GETFD);
    EXPECT_TRUE(flags & FD_CLOEXEC) << target;
  }
  EXPECT_EQ(found, 1);
}

TEST_F(ContentStoreTest, ReadVerifiedDetectsCorruption) {
  absl::StatusOr<std::string> d = store_->Put("{\"schemaVersion\":2}");
  ASSERT_TRUE(d.ok());
  std::string path = store_->BlobPath(*d);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);  // blobs are read-only; this test is the disk going bad
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "X", 1, 3), 1);
    ::close(fd);
  }
  absl::StatusOr<std::string> r = store_->ReadVerified(*d);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), *d)) << r.status();
  // Committing the right bytes again replaces the bad blob.
  ASSERT_TRUE(store_->Put("{\"schemaVersion\":2}", *d).ok());
  EXPECT_EQ(*store_->ReadVerified(*d), "{\"schemaVersion\":2}");
}

TEST_F(ContentStoreTest, ReadVerifiedErrors) {
  std::string missing = Sha256Of("missing");
  EXPECT_EQ(store_->ReadVerified(missing).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Size(missing).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ReadVerified("sha256:../../x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->Has("sha256:../../x"));
  EXPECT_FALSE(store_->Has(""));

  absl::StatusOr<std::string> d = store_->Put(std::string(100, 'z'));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(store_->ReadVerified(*d, 99).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->ReadVerified(*d, 100).ok());
}

TEST_F(ContentStoreTest, PutWithAndWithoutExpectedDigest) {
  absl::StatusOr<std::string> d = store_->Put("hello");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, Sha256Of("hello"));
  EXPECT_TRUE(store_->Has(*d));

  absl::StatusOr<std::string> same = store_->Put("hello", Sha256Of("hello"));
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, *d);

  absl::StatusOr<std::string> wrong = store_->Put("hullo", Sha256Of("hello!"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store_->Has(Sha256Of("hello!")));
  EXPECT_FALSE(store_->Has(Sha256Of("hullo")));

  EXPECT_EQ(store_->Put("x", "sha256:bad").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List(), std::vector<std::string>{*d});
  EXPECT_TRUE(Ingest().empty());

  // The empty blob is a blob too (OCI's empty config/layer).
  absl::StatusOr<std::string> empty = store_->Put("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*store_->ReadVerified(*empty), "");
}

TEST_F(ContentStoreTest, ListAndDelete) {
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<std::string> d = store_->Put(absl::StrCat("blob ", i));
    ASSERT_TRUE(d.ok());
    want.push_back(*d);
  }
  std::sort(want.begin(), want.end());
  // Names that are not digests are not blobs.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/store/blobs/sha256/not-a-digest", "x").ok());
  EXPECT_EQ(store_->List(), want);

  ASSERT_TRUE(store_->Delete(want[2]).ok());
  EXPECT_FALSE(store_->Has(want[2]));
  EXPECT_EQ(store_->Delete(want[2]).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("sha256:x").code(), absl::StatusCode::kInvalidArgument);
  want.erase(want.begin() + 2);
  EXPECT_EQ(store_->List(), want);
}

TEST_F(ContentStoreTest, ConcurrentCommitsOfTheSameAndOtherDigests) {
  const std::string shared(256 * 1024, 's');
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(16);
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<std::string> a = store_->Put(shared, Sha256Of(shared));
        if (!a.ok()) {
          results[t] = a.status();
          return;
        }
        absl::StatusOr<std::string> b = store_->Put(absl::StrCat("thread ", t, " item ", i));
        if (!b.ok()) {
          results[t] = b.status();
          return;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const absl::Status& st : results) EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(store_->List().size(), 1u + 16 * 10);
  EXPECT_EQ(*store_->ReadVerified(Sha256Of(shared)), shared);
  EXPECT_TRUE(Ingest().empty());
}

}  // namespace
}  // namespace berth::image
