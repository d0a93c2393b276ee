// The container's root filesystem, built by the child inside its new mount namespace:
// propagation, the root itself (a detached mount the parent prepared, attached onto
// root.path), spec.mounts in order (binds the parent prepared, other types mounted here),
// /dev, pivot_root; afterwards masked and read-only paths and a read-only root. Everything
// mounted here lives only in the container's mount namespace and goes away with it: no host
// mount is left behind. Every target is opened inside the root (openat2 RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) and mounted on through that fd, so a symlink in the image can never
// put a mount on the node's tree.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/container/container_pty.h"
#include "runtime/container/prepared_mounts.h"
#include "runtime/spec/spec.h"

namespace berth::container_internal {

struct RootfsContext {
  bool new_net = false;         // a fresh sysfs may be mounted; else /sys is bound read-only
  bool user_namespace = false;  // device nodes cannot be made: the node's are bound
  int terminal_fd = -1;         // bound onto /dev/console when >= 0
  // When set: a new pty is opened in the container's devpts (after the mounts, before /dev
  // is populated), and its slave becomes /dev/console (terminal_fd is ignored).
  ContainerPty* new_pty = nullptr;
  PreparedMounts* mounts = nullptr;
  bool no_pivot = false;  // move the rootfs over / and chroot instead of pivot_root
};

// Before pivot_root: everything up to and including pivot_root. cwd is "/" afterwards.
// Returns the node's old root, still stacked on the container's at "/" (invalid with
// no_pivot): nothing in the container may run, nor join its mount namespace (setns lands on
// the topmost mount), before DetachOldRoot.
absl::StatusOr<UniqueFd> SetupRootfs(const spec::Spec& spec, const RootfsContext& context);

// After pivot_root: masked paths, read-only paths, then root.readonly. Before or after
// DetachOldRoot.
absl::Status FinishRootfs(const spec::Spec& spec);

// Detaches the old root (made rslave first, so nothing propagates to the node) and returns
// to the working directory. The unmount waits for an RCU grace period (0.5-0.9 ms here),
// which is why init does it while its creator handles "ready". Needs CAP_SYS_ADMIN, and
// comes before a seccomp filter that may refuse umount2.
absl::Status DetachOldRoot(UniqueFd old_root);

// Re-mounts the mount at `path` (a bind) with `flags` | MS_BIND | MS_REMOUNT; when the kernel
// refuses (flags it locks), retries keeping the mount's current nosuid/nodev/noexec/atime.
absl::Status RemountBind(const std::string& path, unsigned long flags, const std::string& what);

}  // namespace berth::container_internal
