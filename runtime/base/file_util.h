// Small file helpers: whole-file reads and atomic, durable replacement of small files.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `data` to `path` in one write(2) without creating or truncating (cgroup and proc files).
absl::Status WriteExisting(const std::string& path, absl::string_view data);

// Write temp, fsync, rename over `path`, fsync the directory: a crash leaves old or new, never torn.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, int mode = 0644);

// mkdir -p with `mode` for the directories it makes.
absl::Status MakeDirs(const std::string& path, int mode = 0755);

// rm -rf that never crosses into another filesystem (refuses to descend into mount points).
absl::Status RemoveTree(const std::string& path);

}  // namespace berth
