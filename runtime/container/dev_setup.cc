#include "runtime/container/dev_setup.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/path_in_root.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

namespace {

struct Device {
  const char* name;
  unsigned major;
  unsigned minor;
};

constexpr Device kDevices[] = {
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

// Binds the host's `source` onto an empty file /dev/<name> in the container.
absl::Status BindOnto(int root_fd, const std::string& source, const std::string& dest) {
  ASSIGN_OR_RETURN(UniqueFd target, MakePathInRoot(root_fd, dest, LeafKind::kFile));
  if (::mount(source.c_str(), FdPath(target.get()).c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return SysError(absl::StrCat("bind ", source, " on ", dest));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PopulateDev(int root_fd, int terminal_fd) {
  // The dev directory fd is O_PATH-free so that mknodat/symlinkat may use it; it was reached
  // by in-root resolution like every other path.
  ASSIGN_OR_RETURN(UniqueFd dev, OpenInRoot(root_fd, "/dev", O_RDONLY | O_DIRECTORY));
  for (const Device& d : kDevices) {
    std::string dest = absl::StrCat("/dev/", d.name);
    if (::mknodat(dev.get(), d.name, S_IFCHR | 0666, makedev(d.major, d.minor)) == 0) {
      // mknod's mode is filtered by the umask.
      if (::fchmodat(dev.get(), d.name, 0666, 0) != 0) {
        return SysError(absl::StrCat("chmod ", dest));
      }
      continue;
    }
    if (errno == EEXIST) continue;
    if (errno != EPERM) return SysError(absl::StrCat("mknod ", dest));
    // Before pivot_root, /dev/<name> still names the host's node.
    RETURN_IF_ERROR(BindOnto(root_fd, dest, dest));
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
    RETURN_IF_ERROR(BindOnto(root_fd, tty, "/dev/console"));
  }
  return absl::OkStatus();
}

}  // namespace berth::container_internal
