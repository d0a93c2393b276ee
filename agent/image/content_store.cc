#include "agent/image/content_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"

namespace berth::image {

namespace {

// Committed blobs are immutable: nothing in Berth writes one in place.
constexpr mode_t kBlobMode = 0444;

std::string BlobDir(const std::string& dir) { return dir + "/blobs/sha256"; }
std::string IngestDir(const std::string& dir) { return dir + "/ingest"; }

absl::Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", dir));
  if (::fsync(fd.get()) != 0) return ErrnoToStatus(absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(absl::StrCat("write ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ContentStore::Init() {
  RETURN_IF_ERROR(Annotate(MakeDirs(BlobDir(dir_)), "content store"));
  RETURN_IF_ERROR(Annotate(MakeDirs(IngestDir(dir_)), "content store"));
  // Whatever is in ingest now was being written when the agent stopped: never committed,
  // never to be resumed (a pull starts its downloads over).
  for (const std::string& name : ListDirectory(IngestDir(dir_))) {
    RETURN_IF_ERROR(Annotate(RemoveTree(IngestDir(dir_) + "/" + name), "content store: clear ingest"));
  }
  return absl::OkStatus();
}

std::string ContentStore::BlobPath(const std::string& digest) const {
  return absl::StrCat(BlobDir(dir_), "/", DigestHex(digest));
}

bool ContentStore::Has(const std::string& digest) const {
  if (!ValidateDigest(digest).ok()) return false;
  struct stat st;
  return ::stat(BlobPath(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::StatusOr<int64_t> ContentStore::Size(const std::string& digest) const {
  RETURN_IF_ERROR(ValidateDigest(digest));
  struct stat st;
  if (::stat(BlobPath(digest).c_str(), &st) != 0) return ErrnoToStatus(absl::StrCat("blob ", digest));
  return static_cast<int64_t>(st.st_size);
}

absl::StatusOr<std::string> ContentStore::ReadVerified(const std::string& digest, int64_t max_bytes) const {
  RETURN_IF_ERROR(ValidateDigest(digest));
  std::string path = BlobPath(digest);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("blob ", digest));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(absl::StrCat("stat ", path));
  if (st.st_size > max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat("blob ", digest, " has ", st.st_size,
                                                      " bytes, more than the ", max_bytes, " allowed here"));
  }
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(absl::StrCat("read ", path));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    // The file may have grown since fstat; the limit holds for what is read.
    if (static_cast<int64_t>(data.size()) > max_bytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("blob ", digest, " is larger than the ", max_bytes, " bytes allowed here"));
    }
  }
  std::string actual = Sha256Of(data);
  if (actual != digest) {
    return absl::DataLossError(absl::StrCat("blob ", digest, " is corrupt: its content hashes to ", actual));
  }
  return data;
}

absl::StatusOr<std::string> ContentStore::Put(absl::string_view data, const std::string& expected_digest) {
  if (!expected_digest.empty()) RETURN_IF_ERROR(ValidateDigest(expected_digest));
  ASSIGN_OR_RETURN(Writer w, NewWriter());
  RETURN_IF_ERROR(w.Write(data));
  // Without an expected digest the content names itself: hashing twice is cheap for the
  // small documents Put is for, and keeps Commit's check unconditional.
  std::string digest = expected_digest.empty() ? Sha256Of(data) : expected_digest;
  return w.Commit(digest, static_cast<int64_t>(data.size()));
}

absl::Status ContentStore::Delete(const std::string& digest) {
  RETURN_IF_ERROR(ValidateDigest(digest));
  if (::unlink(BlobPath(digest).c_str()) != 0) return ErrnoToStatus(absl::StrCat("delete blob ", digest));
  // Not fsynced: a blob that reappears after a crash is only garbage for the next sweep.
  return absl::OkStatus();
}

std::vector<std::string> ContentStore::List() const {
  std::vector<std::string> out;
  for (const std::string& name : ListDirectory(BlobDir(dir_))) {
    std::string digest = absl::StrCat("sha256:", name);
    if (ValidateDigest(digest).ok()) out.push_back(std::move(digest));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<ContentStore::Writer> ContentStore::NewWriter() const {
  std::string path = IngestDir(dir_) + "/blob-XXXXXX";
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(absl::StrCat("create temp blob in ", IngestDir(dir_)));
  return Writer(this, std::move(path), UniqueFd(fd));
}

ContentStore::Writer::Writer(const ContentStore* store, std::string temp_path, UniqueFd fd)
    : store_(store), temp_path_(std::move(temp_path)), fd_(std::move(fd)) {}

ContentStore::Writer::Writer(Writer&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)),
      temp_path_(std::exchange(other.temp_path_, std::string())),
      fd_(std::move(other.fd_)),
      hash_(std::move(other.hash_)),
      size_(std::exchange(other.size_, 0)),
      committed_(std::exchange(other.committed_, false)) {}

ContentStore::Writer& ContentStore::Writer::operator=(Writer&& other) noexcept {
  if (this != &other) {
    if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
    store_ = std::exchange(other.store_, nullptr);
    temp_path_ = std::exchange(other.temp_path_, std::string());
    fd_ = std::move(other.fd_);
    hash_ = std::move(other.hash_);
    size_ = std::exchange(other.size_, 0);
    committed_ = std::exchange(other.committed_, false);
  }
  return *this;
}

ContentStore::Writer::~Writer() {
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

absl::Status ContentStore::Writer::Write(absl::string_view data) {
  if (!fd_) return absl::FailedPreconditionError("blob writer is closed (committed or failed)");
  RETURN_IF_ERROR(WriteAll(fd_.get(), data, temp_path_));
  hash_.Update(data);
  size_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status ContentStore::Writer::Reset() {
  if (!fd_) return absl::FailedPreconditionError("blob writer is closed (committed or failed)");
  if (::ftruncate(fd_.get(), 0) != 0) return ErrnoToStatus(absl::StrCat("truncate ", temp_path_));
  if (::lseek(fd_.get(), 0, SEEK_SET) != 0) return ErrnoToStatus(absl::StrCat("seek ", temp_path_));
  hash_.Digest();  // resets the hasher
  size_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ContentStore::Writer::Commit(const std::string& expected_digest, int64_t expected_size) {
  if (!fd_) return absl::FailedPreconditionError("blob writer is closed (committed or failed)");
  RETURN_IF_ERROR(ValidateDigest(expected_digest));
  // From here on the writer is finished either way: on failure the temp file goes (the
  // destructor would remove it too, but a failed download should not hold disk until then).
  auto fail = [this](absl::Status st) {
    fd_.Reset();
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
    return st;
  };
  std::string actual = hash_.Digest();
  if (expected_size >= 0 && size_ != expected_size) {
    return fail(absl::FailedPreconditionError(absl::StrCat("blob ", expected_digest, ": size mismatch: expected ",
                                                           expected_size, " bytes, got ", size_, " (", actual, ")")));
  }
  if (actual != expected_digest) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("digest mismatch: expected ", expected_digest, ", got ", actual, " (", size_, " bytes)")));
  }
  if (::fchmod(fd_.get(), kBlobMode) != 0) return fail(ErrnoToStatus(absl::StrCat("chmod ", temp_path_)));
  if (::fsync(fd_.get()) != 0) return fail(ErrnoToStatus(absl::StrCat("fsync ", temp_path_)));
  fd_.Reset();
  // Renaming over an existing blob is fine: same digest, same bytes (and it heals a blob
  // that was corrupted on disk). Two writers committing the same digest race harmlessly.
  std::string target = store_->BlobPath(expected_digest);
  if (::rename(temp_path_.c_str(), target.c_str()) != 0) {
    return fail(ErrnoToStatus(absl::StrCat("rename ", temp_path_, " to ", target)));
  }
  committed_ = true;
  temp_path_.clear();
  // The blob is visible now; if the directory cannot be made durable the caller may retry.
  RETURN_IF_ERROR(Annotate(FsyncDir(BlobDir(store_->dir_)), absl::StrCat("commit blob ", expected_digest)));
  return expected_digest;
}

}  // namespace berth::image
