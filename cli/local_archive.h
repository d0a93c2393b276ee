// Tar streams of the local side of `berth cp`, with libarchive: a local path packed (its
// last name as the top-level entry; "DIR/." packs DIR's contents), and a received archive
// unpacked with libarchive's safety checks (no "..", no absolute names, nothing written
// through a symlink).
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/base/unique_fd.h"

namespace berth::cli {

using ArchiveChunkSink = std::function<absl::Status(absl::string_view)>;

absl::Status PackLocalPath(const std::string& path, const ArchiveChunkSink& sink);

// The archive's bytes as they arrive; Finish() after the last chunk.
class LocalUnpacker {
 public:
  // `dest` an existing directory: entries go into it. Otherwise `dest`'s parent must exist,
  // and the top-level entry is written as `dest` (Docker's rule for a new name).
  static absl::StatusOr<LocalUnpacker> Open(const std::string& dest, bool keep_owner);
  LocalUnpacker(LocalUnpacker&&) = default;
  ~LocalUnpacker();

  absl::Status Feed(absl::string_view data);
  absl::Status Finish();

 private:
  LocalUnpacker() = default;
  std::string spool_path_;
  UniqueFd spool_fd_;
  std::string into_;        // the directory entries are written below
  std::string rename_top_;  // non-empty: the top-level entry's new name
  bool keep_owner_ = false;
};

}  // namespace berth::cli
