#include "runtime/container/dev_setup.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/mount_api.h"
#include "runtime/container/path_in_root.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

namespace {

struct DefaultDevice {
  const char* name;
  unsigned major;
  unsigned minor;
};

constexpr DefaultDevice kDevices[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

struct Link {
  const char* name;
  const char* target;
};

constexpr Link kLinks[] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
};

// How a node's own file is bound into the container.
enum class BindAccess {
  // A device node of the host: read-only as a mount, which leaves the device readable and
  // writable (a mount's read-only flag does not apply to the device behind a node) but
  // refuses chmod, chown and utimes, which would change the host's node itself: a container
  // root without a user namespace owns it.
  kNodeReadOnly,
  kWritable,  // the terminal: programs fchown and fchmod their tty
};

// Binds the node's `source` onto an empty file made at `dest` inside the root. Before
// pivot_root the node's tree is still reachable by path: only `source` is resolved there.
absl::Status BindOnto(int root_fd, const std::string& source, const std::string& dest, BindAccess access) {
  ASSIGN_OR_RETURN(UniqueFd target, MakePathInRoot(root_fd, dest, LeafKind::kFile));
  ASSIGN_OR_RETURN(UniqueFd bind, CloneMountTree(AT_FDCWD, source, /*recursive=*/false));
  if (access == BindAccess::kNodeReadOnly) {
    // mount_setattr adds the flag alone: the flags the node's mount has (and, in a user
    // namespace, may not drop) stay as they are.
    RETURN_IF_ERROR(SetMountAttributes(bind.get(), AttributesFromFlags(MS_RDONLY), /*recursive=*/false));
  }
  return AttachMount(bind.get(), target.get(), absl::StrCat("bind ", source, " on ", dest));
}

// Whether a node made in `dir` would work: not on a nodev mount and not in a user namespace.
bool CanMakeNodes(int dir_fd, bool user_namespace) {
  if (user_namespace) return false;
  struct statvfs st;
  if (::fstatvfs(dir_fd, &st) != 0) return false;
  return (st.f_flag & ST_NODEV) == 0;
}

// The node's own device file for a device number, found through sysfs.
absl::StatusOr<std::string> HostNodeFor(bool block, int64_t major, int64_t minor) {
  std::string uevent =
      absl::StrCat("/sys/dev/", block ? "block/" : "char/", major, ":", minor, "/uevent");
  absl::StatusOr<std::string> text = ReadFile(uevent);
  if (text.ok()) {
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      if (!absl::ConsumePrefix(&line, "DEVNAME=")) continue;
      std::string path = absl::StrCat("/dev/", line);
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && st.st_rdev == makedev(major, minor) &&
          (block ? S_ISBLK(st.st_mode) : S_ISCHR(st.st_mode))) {
        return path;
      }
    }
  }
  return SysError(ENODEV, absl::StrCat("device ", block ? "b " : "c ", major, ":", minor,
                                       " has no node on this host to bind"));
}

absl::Status MakeDevice(int root_fd, const spec::Device& d, bool user_namespace) {
  const std::string what = absl::StrCat("device ", d.path);
  std::string parent = d.path.substr(0, d.path.find_last_of('/'));
  std::string name = d.path.substr(d.path.find_last_of('/') + 1);
  ASSIGN_OR_RETURN(UniqueFd dir, MakePathInRoot(root_fd, parent.empty() ? "/" : parent,
                                                LeafKind::kDirectory));
  UniqueFd dir_rw(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_rw) return SysError(what);
  const bool block = d.type == "b";
  const dev_t number = makedev(d.major, d.minor);
  struct stat existing;
  if (::fstatat(dir_rw.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    if ((S_ISCHR(existing.st_mode) || S_ISBLK(existing.st_mode)) && existing.st_rdev == number) {
      return absl::OkStatus();
    }
    if (::unlinkat(dir_rw.get(), name.c_str(), 0) != 0) return SysError(absl::StrCat(what, ": replace"));
  }
  mode_t perm = d.file_mode.value_or(0666) & 07777;
  if (d.type == "p") {
    if (::mkfifoat(dir_rw.get(), name.c_str(), perm) != 0) return SysError(what);
  } else if (CanMakeNodes(dir_rw.get(), user_namespace)) {
    mode_t kind = block ? S_IFBLK : S_IFCHR;
    if (::mknodat(dir_rw.get(), name.c_str(), kind | perm, number) != 0) return SysError(what);
  } else {
    ASSIGN_OR_RETURN(std::string source, HostNodeFor(block, d.major, d.minor));
    return BindOnto(root_fd, source, d.path, BindAccess::kNodeReadOnly);
  }
  // mknod's mode went through the umask; the spec's owner and mode are exact.
  if (::fchmodat(dir_rw.get(), name.c_str(), perm, 0) != 0) return SysError(absl::StrCat(what, ": chmod"));
  if ((d.uid || d.gid) &&
      ::fchownat(dir_rw.get(), name.c_str(), d.uid.value_or(0), d.gid.value_or(0),
                 AT_SYMLINK_NOFOLLOW) != 0) {
    return SysError(absl::StrCat(what, ": chown"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PopulateDev(int root_fd, int terminal_fd, bool user_namespace) {
  // The dev directory fd is O_PATH-free so that mknodat/symlinkat may use it; it was reached
  // by in-root resolution like every other path.
  ASSIGN_OR_RETURN(UniqueFd dev, OpenInRoot(root_fd, "/dev", O_RDONLY | O_DIRECTORY));
  const bool make_nodes = CanMakeNodes(dev.get(), user_namespace);
  for (const DefaultDevice& d : kDevices) {
    std::string dest = absl::StrCat("/dev/", d.name);
    if (make_nodes) {
      if (::mknodat(dev.get(), d.name, S_IFCHR | 0666, makedev(d.major, d.minor)) != 0 &&
          errno != EEXIST) {
        return SysError(absl::StrCat("mknod ", dest));
      }
      // mknod's mode is filtered by the umask.
      if (::fchmodat(dev.get(), d.name, 0666, 0) != 0) return SysError(absl::StrCat("chmod ", dest));
      continue;
    }
    // Before pivot_root, /dev/<name> still names the host's node.
    RETURN_IF_ERROR(BindOnto(root_fd, dest, dest, BindAccess::kNodeReadOnly));
  }
  for (const Link& l : kLinks) {
    if (::symlinkat(l.target, dev.get(), l.name) != 0 && errno != EEXIST) {
      return SysError(absl::StrCat("symlink /dev/", l.name, " -> ", l.target));
    }
  }
  if (terminal_fd >= 0) {
    // By path, not through /proc/self/fd: a bind source must be a mount of our own mount
    // namespace, and the fd was opened in the parent's. The copied namespace still has the
    // host's /dev/pts at this point.
    char tty[PATH_MAX];
    if (int err = ::ttyname_r(terminal_fd, tty, sizeof(tty)); err != 0) {
      return SysError(err, "name of the terminal");
    }
    RETURN_IF_ERROR(BindOnto(root_fd, tty, "/dev/console", BindAccess::kWritable));
  }
  return absl::OkStatus();
}

absl::Status MakeDevices(int root_fd, const std::vector<spec::Device>& devices, bool user_namespace) {
  for (const spec::Device& d : devices) RETURN_IF_ERROR(MakeDevice(root_fd, d, user_namespace));
  return absl::OkStatus();
}

}  // namespace berth::container_internal
