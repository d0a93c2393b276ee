// Tar archives of paths inside a container's root file system, both ways (`berth cp`).
//
// The root is a directory fd (the container's "/"); every path resolves inside it with
// RESOLVE_IN_ROOT, so a symlink in the container (absolute or with "..") can never lead
// outside it. Below that, nothing follows a symlink: entries are read with O_NOFOLLOW and
// written by *at() calls that replace a symlink leaf instead of writing through it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "berth/v1/containers.pb.h"

namespace berth::agent {

// Receives the archive's bytes in order; an error stops the walk.
using ArchiveSink = std::function<absl::Status(absl::string_view)>;

// What `path` (inside `root_fd`) is, without following a final symlink. NOT_FOUND names it.
absl::StatusOr<v1::PathStat> StatInRoot(int root_fd, const std::string& path);

// A tar of `path`: its top-level entry carries the path's last name ("." for the root).
// Directories of pseudo file systems (proc, sysfs, cgroup, devpts, ...) are listed but not
// walked. Sockets are left out.
absl::Status WriteTreeArchive(int root_fd, const std::string& path, const ArchiveSink& sink);

struct UnpackOptions {
  bool keep_owner = false;  // the archive's uids and gids; otherwise the container's root
  uint32_t id_shift = 0;    // the node id of the container's root (user namespace), added
};

// Unpacks the tar (or tar.gz) file `archive_path` at `dest` inside the root, Docker's way:
// into `dest` when it is a directory, else (its parent a directory, one top-level entry in
// the archive) as `dest`. Returns the number of entries written. An entry with ".." or one
// that would leave the destination is INVALID_ARGUMENT; device nodes are skipped.
absl::StatusOr<int64_t> UnpackTreeArchive(int root_fd, const std::string& dest, const std::string& archive_path,
                                          const UnpackOptions& options);

}  // namespace berth::agent
