// Paths inside a container's root filesystem, resolved as if the root were "/": symlinks and
// ".." can never lead outside it (openat2 with RESOLVE_IN_ROOT). Mount targets are always
// reached this way, then mounted on through /proc/self/fd/N, so a hostile image cannot
// redirect a mount onto the host.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::container_internal {

// Opens `path` (absolute or relative, taken inside root_fd) with `flags` (O_PATH by
// default; O_CLOEXEC is added). Errors are SysError("open <path> in rootfs").
absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags = 0);

enum class LeafKind { kDirectory, kFile };

// mkdir -p inside the root (directories 0755); the last component is made an empty file
// (0644) for kFile. Returns the result opened like OpenInRoot, or, for a file it just made,
// open for writing: either fd names the object, as a mount target wants.
absl::StatusOr<UniqueFd> MakePathInRoot(int root_fd, const std::string& path, LeafKind leaf);

// "/proc/self/fd/<fd>": a path that names exactly the object `fd` refers to.
std::string FdPath(int fd);

}  // namespace berth::container_internal
