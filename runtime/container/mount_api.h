// The kernel's new mount API (open_tree, mount_setattr, fsopen/fsconfig/fsmount, move_mount)
// as small wrappers returning owned fds. A container's bind mounts and root filesystem are
// made as detached mounts by the parent (the node's root, in the node's mount namespace, so
// sources resolve with the node's rights), then attached by the child onto targets it opened
// inside the new root: no path string is resolved twice, so nothing can redirect a mount.
// Errors carry the errno (SysError) so they travel to the parent of a child whole.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::container_internal {

// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path` (with its submounts when
// `recursive`). The result is an O_PATH fd of the copy's root.
absl::StatusOr<UniqueFd> CloneMountTree(int dirfd, const std::string& path, bool recursive);

// Mount attributes in mount_setattr(2)'s terms, from mount(2)-style MS_* flags.
struct MountAttributes {
  uint64_t set = 0;    // MOUNT_ATTR_*
  uint64_t clear = 0;  // MOUNT_ATTR_*
};
MountAttributes AttributesFromFlags(unsigned long ms_flags);

// mount_setattr on the mount `fd` names (all of its tree when `recursive`). `userns_fd` >= 0
// adds MOUNT_ATTR_IDMAP with that namespace's mappings (only on a detached mount).
absl::Status SetMountAttributes(int fd, const MountAttributes& attributes, bool recursive,
                                int userns_fd = -1);

// An overlay as a detached mount. Lower layers are given as fds (topmost first), so idmapped
// layer mounts can be used; upper/work are paths (empty: a read-only overlay). Needs a kernel
// whose overlayfs takes layers by fd (6.5+): FAILED_PRECONDITION naming the kernel otherwise.
absl::StatusOr<UniqueFd> MakeOverlay(const std::vector<int>& lower_fds, const std::string& upper,
                                     const std::string& work, const MountAttributes& attributes);

// An overlay from layer paths (topmost first), as a detached mount.
absl::StatusOr<UniqueFd> MakeOverlay(const std::vector<std::string>& lowers,
                                     const std::string& upper, const std::string& work,
                                     const MountAttributes& attributes);

// move_mount of the detached (or attached) mount `from_fd` onto the object `to_fd` names.
absl::Status AttachMount(int from_fd, int to_fd, const std::string& what);

}  // namespace berth::container_internal
