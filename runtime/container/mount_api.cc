#include "runtime/container/mount_api.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

namespace {

int FsConfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

// The kernel's own explanation of a failed fsconfig (overlayfs says which layer and why).
std::string FsContextLog(int fs_fd) {
  std::string out;
  char buf[512];
  for (int i = 0; i < 8; ++i) {
    ssize_t n = ::read(fs_fd, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
    while (!out.empty() && out.back() == '\n') out.pop_back();
  }
  return out;
}

absl::Status FsError(int fs_fd, const std::string& what) {
  int err = errno;
  std::string log = FsContextLog(fs_fd);
  return SysError(err, log.empty() ? what : absl::StrCat(what, " (", log, ")"));
}

absl::StatusOr<UniqueFd> OpenOverlayContext() {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) return SysError("fsopen overlay");
  return fs;
}

absl::StatusOr<UniqueFd> FinishOverlay(int fs_fd, const std::string& upper, const std::string& work,
                                       const MountAttributes& attributes) {
  if (!upper.empty()) {
    if (FsConfig(fs_fd, FSCONFIG_SET_STRING, "upperdir", upper.c_str(), 0) != 0) {
      return FsError(fs_fd, absl::StrCat("overlay upperdir ", upper));
    }
    if (FsConfig(fs_fd, FSCONFIG_SET_STRING, "workdir", work.c_str(), 0) != 0) {
      return FsError(fs_fd, absl::StrCat("overlay workdir ", work));
    }
  }
  if (FsConfig(fs_fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return FsError(fs_fd, "create overlay");
  }
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs_fd, FSMOUNT_CLOEXEC,
                                          static_cast<unsigned>(attributes.set))));
  if (!mnt) return SysError("fsmount overlay");
  return mnt;
}

}  // namespace

absl::StatusOr<UniqueFd> CloneMountTree(int dirfd, const std::string& path, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  if (path.empty()) flags |= AT_EMPTY_PATH;
  UniqueFd fd(static_cast<int>(::syscall(SYS_open_tree, dirfd, path.c_str(), flags)));
  if (!fd) return SysError(absl::StrCat("clone mount ", path));
  return fd;
}

MountAttributes AttributesFromFlags(unsigned long ms_flags) {
  MountAttributes a;
  auto pick = [&](unsigned long ms, uint64_t attr) {
    if (ms_flags & ms) a.set |= attr;
  };
  pick(MS_RDONLY, MOUNT_ATTR_RDONLY);
  pick(MS_NOSUID, MOUNT_ATTR_NOSUID);
  pick(MS_NODEV, MOUNT_ATTR_NODEV);
  pick(MS_NOEXEC, MOUNT_ATTR_NOEXEC);
  pick(MS_NODIRATIME, MOUNT_ATTR_NODIRATIME);
  // The atime modes are one field: setting one means clearing the field first.
  if (ms_flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) {
    a.clear |= MOUNT_ATTR__ATIME;
    if (ms_flags & MS_NOATIME) {
      a.set |= MOUNT_ATTR_NOATIME;
    } else if (ms_flags & MS_STRICTATIME) {
      a.set |= MOUNT_ATTR_STRICTATIME;
    } else {
      a.set |= MOUNT_ATTR_RELATIME;
    }
  }
  return a;
}

absl::Status SetMountAttributes(int fd, const MountAttributes& attributes, bool recursive,
                                int userns_fd) {
  struct mount_attr attr = {};
  attr.attr_set = attributes.set;
  attr.attr_clr = attributes.clear;
  if (userns_fd >= 0) {
    attr.attr_set |= MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(userns_fd);
  }
  if (attr.attr_set == 0 && attr.attr_clr == 0) return absl::OkStatus();
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof(attr)) != 0) {
    return SysError(userns_fd >= 0 ? "idmap mount" : "set mount attributes");
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> MakeOverlay(const std::vector<int>& lower_fds, const std::string& upper,
                                     const std::string& work, const MountAttributes& attributes) {
  ASSIGN_OR_RETURN(UniqueFd fs, OpenOverlayContext());
  for (int fd : lower_fds) {
    if (FsConfig(fs.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, fd) != 0) {
      if (errno == EINVAL) {
        return absl::FailedPreconditionError(
            "overlay layers given by fd (idmapped image layers) need Linux 6.5 or later");
      }
      return FsError(fs.get(), "overlay lower layer");
    }
  }
  return FinishOverlay(fs.get(), upper, work, attributes);
}

absl::StatusOr<UniqueFd> MakeOverlay(const std::vector<std::string>& lowers,
                                     const std::string& upper, const std::string& work,
                                     const MountAttributes& attributes) {
  ASSIGN_OR_RETURN(UniqueFd fs, OpenOverlayContext());
  // One "lowerdir+" per layer lifts the one-page limit of the joined option on new kernels;
  // older ones take the classic colon-joined list.
  bool appended = true;
  for (const std::string& lower : lowers) {
    if (FsConfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", lower.c_str(), 0) == 0) continue;
    if (errno != EINVAL) {
      return FsError(fs.get(), absl::StrCat("overlay lower layer ", lower));
    }
    appended = false;
    break;
  }
  if (!appended) {
    ASSIGN_OR_RETURN(fs, OpenOverlayContext());
    std::string joined = absl::StrJoin(lowers, ":");
    if (FsConfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir", joined.c_str(), 0) != 0) {
      return FsError(fs.get(), absl::StrCat("overlay lowerdir ", joined));
    }
  }
  return FinishOverlay(fs.get(), upper, work, attributes);
}

absl::Status AttachMount(int from_fd, int to_fd, const std::string& what) {
  if (::syscall(SYS_move_mount, from_fd, "", to_fd, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
    return SysError(what);
  }
  return absl::OkStatus();
}

}  // namespace berth::container_internal
