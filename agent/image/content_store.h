// Content-addressed blobs under <dir>/blobs/sha256/<hex>. A blob becomes visible only when
// complete and verified: writers fill a temp file under <dir>/ingest and Commit checks the
// digest (and size) before the rename, so a crash or a bad download never leaves a partial
// or wrong blob in the store. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/image/digest.h"
#include "runtime/base/unique_fd.h"

namespace berth::image {

class ContentStore {
 public:
  explicit ContentStore(std::string dir) : dir_(std::move(dir)) {}

  // Makes the dirs; removes every leftover of <dir>/ingest (interrupted writes).
  absl::Status Init();

  std::string BlobPath(const std::string& digest) const;
  bool Has(const std::string& digest) const;
  absl::StatusOr<int64_t> Size(const std::string& digest) const;
  // Whole blob, re-hashed on every read (manifests, configs: small). DATA_LOSS when the
  // bytes on disk no longer match; FAILED_PRECONDITION when larger than `max_bytes`.
  absl::StatusOr<std::string> ReadVerified(const std::string& digest, int64_t max_bytes = 8 << 20) const;
  // Writes and commits `data`; with `expected_digest` set, refuses a mismatch.
  absl::StatusOr<std::string> Put(absl::string_view data, const std::string& expected_digest = "");
  absl::Status Delete(const std::string& digest);
  std::vector<std::string> List() const;  // digests

  class Writer {
   public:
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) noexcept;
    ~Writer();  // an uncommitted writer removes its temp file
    absl::Status Write(absl::string_view data);
    int64_t size() const { return size_; }
    // Drops what was written (a retried download starts over).
    absl::Status Reset();
    // Verifies digest (and size unless negative), fsyncs and renames into place; returns the
    // digest. FAILED_PRECONDITION naming expected and actual digest on a mismatch (and the
    // temp file is removed). OK too when the blob existed already.
    absl::StatusOr<std::string> Commit(const std::string& expected_digest, int64_t expected_size = -1);

   private:
    friend class ContentStore;
    Writer(const ContentStore* store, std::string temp_path, UniqueFd fd);
    const ContentStore* store_ = nullptr;
    std::string temp_path_;
    UniqueFd fd_;
    Sha256 hash_;
    int64_t size_ = 0;
    bool committed_ = false;
  };
  absl::StatusOr<Writer> NewWriter() const;

 private:
  std::string dir_;
};

}  // namespace berth::image
