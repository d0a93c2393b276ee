// The mounts a container's parent makes for it before (or, with a user namespace, right
// after) the clone: the root file system and every bind mount, as detached mounts. The parent
// is the node's root in the node's mount namespace, so sources and layer paths resolve with
// its rights; the child only attaches them onto targets it opened inside the new root.
//
// With a user namespace the image layers (and binds with the "idmap" option) are idmapped to
// the container's mappings, so no layer is copied or chowned; the overlay's upper and work
// dirs are the container's own and are given to its root instead (overlayfs writes the upper
// as its mounter, which an idmapped upper cannot take).
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/spec/spec.h"

namespace berth::container_internal {

// The child attaches the root onto root.path, which it resolves itself: an fd opened here
// would name the mount in the parent's namespace, where the child cannot mount. With a user
// namespace, root.path must therefore be reachable by the container's root.
struct PreparedMounts {
  UniqueFd root;         // the root file system as a detached mount
  std::vector<UniqueFd> binds;  // per spec.mounts index: a detached bind; invalid for others
  std::vector<bool> idmap;      // per spec.mounts index: idmap it (user namespace only)
};

// Before clone. Without a user namespace everything is made here; with one, the root and the
// idmapped binds wait for FinishInUserNamespace.
absl::StatusOr<PreparedMounts> PrepareMounts(const spec::Spec& spec, bool user_namespace);

// After the child's id maps are written: idmaps layers and binds with `userns_fd` and builds
// the root.
absl::Status FinishInUserNamespace(const spec::Spec& spec, int userns_fd, PreparedMounts& mounts);

// Whether mounts[i] is a bind mount (type "bind" or a "bind"/"rbind" option).
bool IsBindMount(const spec::Mount& mount);

}  // namespace berth::container_internal
