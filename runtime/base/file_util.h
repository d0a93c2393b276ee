// Small file helpers: whole-file reads and atomic, durable replacement of small files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// All of `data` to `fd`, in as many write(2)s as it takes (a pipe or socket takes a part at a
// time); false with errno set when one fails.
bool WriteAll(int fd, absl::string_view data);

// Writes `data` to `path` in one write(2) without creating or truncating (cgroup and proc files).
absl::Status WriteExisting(const std::string& path, absl::string_view data);
// The same for each of `pieces` in order, one write(2) each through one open: a control file
// that parses each write as one command. Stops at the first that fails.
absl::Status WriteExistingEach(const std::string& path, const std::vector<std::string>& pieces);

// How far a replacement must reach before WriteFileAtomic returns.
enum class Durability {
  // fsync the file and the directory: survives a power loss (records that must never be lost,
  // e.g. that a container exists).
  kDurable,
  // rename only: a crash of any process leaves old or new, never torn. For state that a host
  // crash makes meaningless anyway (what a process is doing now), where fsync costs ms per step.
  kProcessCrashSafe,
};

// Write temp, (fsync), rename over `path`, (fsync the directory).
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, int mode = 0644,
                             Durability durability = Durability::kDurable);

// Creates `path`, which must not exist yet (ALREADY_EXISTS), with `data` in place: for the files
// of a directory nothing reads before it is complete (a new container's bundle), where a temp
// file and a rename would only cost a create and a rename each. A crash midway leaves a
// directory its owner removes whole.
absl::Status WriteNewFile(const std::string& path, absl::string_view data, int mode = 0644);

// mkdir -p with `mode` for the directories it makes.
absl::Status MakeDirs(const std::string& path, int mode = 0755);

// Marks `dir` as the top of independent directory trees (chattr +T): ext4's allocator then
// places each new subdirectory, and the files made in it, in a block group of its own choice
// instead of its parent's. Best effort: false where the filesystem has no such flag.
bool MarkTopOfTrees(const std::string& dir);

// Names in `dir` other than "." and ".."; empty when it cannot be read (a missing dir is
// the common case for callers that scan for leftovers).
std::vector<std::string> ListDirectory(const std::string& dir);

// Bytes allocated on disk for `path` and everything below it (du); 0 when missing. Does not
// follow symlinks or cross into other filesystems.
int64_t DirectorySize(const std::string& path);
// The same, with the number of entries (inodes, hard links counted once per name).
struct TreeUsage {
  int64_t bytes = 0;
  int64_t inodes = 0;
};
TreeUsage DirectoryUsage(const std::string& path);

// rm -rf that never crosses into another filesystem (refuses to descend into mount points).
absl::Status RemoveTree(const std::string& path);

}  // namespace berth
