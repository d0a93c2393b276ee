#include "runtime/container/rootfs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/dev_setup.h"
#include "runtime/container/mount_options.h"
#include "runtime/container/path_in_root.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

namespace {

// The flags a bind remount must keep when the kernel locks them.
unsigned long CurrentMountFlags(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

absl::Status MountRoot(const spec::Spec& spec) {
  const std::string& root = spec.root.path;
  auto lower = spec.annotations.find(spec::kAnnotationOverlayLower);
  if (lower == spec.annotations.end()) {
    if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return SysError(absl::StrCat("bind rootfs ", root));
    }
    return absl::OkStatus();
  }
  auto upper = spec.annotations.find(spec::kAnnotationOverlayUpper);
  auto work = spec.annotations.find(spec::kAnnotationOverlayWork);
  bool has_upper = upper != spec.annotations.end() && !upper->second.empty();
  bool has_work = work != spec.annotations.end() && !work->second.empty();
  if (has_upper != has_work) {
    return SysError(EINVAL, absl::StrCat("overlay rootfs: ", spec::kAnnotationOverlayUpper, " and ",
                                         spec::kAnnotationOverlayWork, " go together"));
  }
  std::string data = absl::StrCat("lowerdir=", lower->second);
  if (has_upper) absl::StrAppend(&data, ",upperdir=", upper->second, ",workdir=", work->second);
  if (::mount("overlay", root.c_str(), "overlay", 0, data.c_str()) != 0) {
    return SysError(absl::StrCat("mount overlay on ", root, " (", data, ")"));
  }
  return absl::OkStatus();
}

// The v1/v2 cgroup hierarchies as mounted on the host, for a "cgroup" mount in the spec.
struct CgroupHierarchy {
  std::string name;     // basename of the mount point: "memory", "unified", "systemd"
  std::string fstype;   // "cgroup" or "cgroup2"
  std::string options;  // v1 super options without rw/ro: "memory", "xattr,name=systemd"
};

std::vector<CgroupHierarchy> HostCgroupHierarchies() {
  std::vector<CgroupHierarchy> out;
  absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*mountinfo, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash < 5 || dash + 3 >= fields.size()) continue;
    absl::string_view mount_point = fields[4];
    absl::string_view fstype = fields[dash + 1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    if (!absl::ConsumePrefix(&mount_point, "/sys/fs/cgroup/")) continue;
    if (mount_point.empty() || mount_point.find('/') != absl::string_view::npos) continue;
    std::vector<std::string> opts;
    for (absl::string_view opt : absl::StrSplit(fields[dash + 3], ',')) {
      if (opt == "rw" || opt == "ro" || absl::StartsWith(opt, "release_agent=")) continue;
      opts.emplace_back(opt);
    }
    out.push_back({std::string(mount_point), std::string(fstype), absl::StrJoin(opts, ",")});
  }
  return out;
}

// A "cgroup" mount: cgroup2 on a unified host; on a v1 or hybrid host a tmpfs with each
// hierarchy mounted below it (mounted from inside the cgroup namespace, each shows the
// container's cgroup as its root).
absl::Status MountCgroupTree(int root_fd, const spec::Mount& m, const MountOptions& opts,
                             const std::string& target) {
  struct statfs fs;
  if (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
    if (::mount("cgroup2", target.c_str(), "cgroup2", opts.flags, nullptr) != 0) {
      return SysError(absl::StrCat("mount cgroup2 on ", m.destination));
    }
    return absl::OkStatus();
  }
  unsigned long tmpfs_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (::mount("tmpfs", target.c_str(), "tmpfs", tmpfs_flags, "mode=755") != 0) {
    return SysError(absl::StrCat("mount tmpfs on ", m.destination));
  }
  for (const CgroupHierarchy& h : HostCgroupHierarchies()) {
    std::string dest = absl::StrCat(m.destination, "/", h.name);
    ASSIGN_OR_RETURN(UniqueFd sub, MakePathInRoot(root_fd, dest, LeafKind::kDirectory));
    const char* data = h.fstype == "cgroup" ? h.options.c_str() : nullptr;
    if (::mount(h.fstype.c_str(), FdPath(sub.get()).c_str(), h.fstype.c_str(), opts.flags, data) !=
        0) {
      return SysError(absl::StrCat("mount ", h.fstype, " (", h.options, ") on ", dest));
    }
  }
  if (opts.flags & MS_RDONLY) {
    ASSIGN_OR_RETURN(UniqueFd top, OpenInRoot(root_fd, m.destination));
    if (::mount(nullptr, FdPath(top.get()).c_str(), nullptr, MS_REMOUNT | MS_RDONLY | tmpfs_flags,
                "mode=755") != 0) {
      return SysError(absl::StrCat("remount ", m.destination, " read-only"));
    }
  }
  return absl::OkStatus();
}

absl::Status MountOne(int root_fd, const spec::Mount& m, const RootfsContext& context) {
  MountOptions opts = ParseMountOptions(m.options);
  bool bind = opts.bind || m.type == "bind";
  std::string what =
      absl::StrCat("mount ", bind ? "bind " + m.source : m.type, " on ", m.destination);
  LeafKind leaf = LeafKind::kDirectory;
  if (bind) {
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0) {
      return SysError(absl::StrCat(what, ": source ", m.source));
    }
    if (!S_ISDIR(st.st_mode)) leaf = LeafKind::kFile;
  }
  absl::StatusOr<UniqueFd> target = MakePathInRoot(root_fd, m.destination, leaf);
  if (!target.ok()) return WithContext(target.status(), what);
  std::string target_path = FdPath(target->get());

  if (bind) {
    unsigned long flags = MS_BIND | (opts.recursive ? MS_REC : 0);
    if (::mount(m.source.c_str(), target_path.c_str(), nullptr, flags, nullptr) != 0) {
      return SysError(what);
    }
    if (opts.flags & ~MS_REMOUNT) {
      // A bind ignores every flag but MS_REC; "ro", "nosuid", ... need a remount of the
      // new mount, reached afresh (the old fd names the mount point underneath).
      absl::StatusOr<UniqueFd> mounted = OpenInRoot(root_fd, m.destination);
      if (!mounted.ok()) return WithContext(mounted.status(), what);
      RETURN_IF_ERROR(RemountBind(FdPath(mounted->get()), opts.flags & ~MS_REMOUNT, what));
    }
  } else if (m.type == "cgroup") {
    RETURN_IF_ERROR(MountCgroupTree(root_fd, m, opts, target_path));
  } else {
    const std::string& source = m.source.empty() ? m.type : m.source;
    const char* data = opts.data.empty() ? nullptr : opts.data.c_str();
    if (::mount(source.c_str(), target_path.c_str(), m.type.c_str(), opts.flags, data) != 0) {
      int err = errno;
      if (!(m.type == "sysfs" && err == EPERM && !context.new_net)) return SysError(err, what);
      // Sharing the host's network namespace, a fresh sysfs may be refused: bind the
      // host's /sys read-only instead.
      if (::mount("/sys", target_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        return SysError(absl::StrCat(what, " (bind of /sys after EPERM)"));
      }
      absl::StatusOr<UniqueFd> mounted = OpenInRoot(root_fd, m.destination);
      if (!mounted.ok()) return WithContext(mounted.status(), what);
      RETURN_IF_ERROR(RemountBind(FdPath(mounted->get()),
                                  opts.flags | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, what));
    }
  }

  if (opts.propagation != 0) {
    absl::StatusOr<UniqueFd> mounted = OpenInRoot(root_fd, m.destination);
    if (!mounted.ok()) return WithContext(mounted.status(), what);
    if (::mount(nullptr, FdPath(mounted->get()).c_str(), nullptr, opts.propagation, nullptr) != 0) {
      return SysError(absl::StrCat(what, ": set propagation"));
    }
  }
  return absl::OkStatus();
}

bool MountsFreshDev(const spec::Spec& spec) {
  for (const spec::Mount& m : spec.mounts) {
    if (m.destination != "/dev") continue;
    MountOptions opts = ParseMountOptions(m.options);
    return !(opts.bind || m.type == "bind");
  }
  return false;
}

absl::Status PivotRoot(int root_fd) {
  if (::fchdir(root_fd) != 0) return SysError("chdir to rootfs");
  // pivot_root(".", "."): the old root ends up stacked on the new one at "/", from where it
  // is detached; no directory for it is needed in the image.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return SysError("pivot_root");
  // Slave first so that the detach below cannot propagate to the host.
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
    return SysError("make old root rslave");
  }
  if (::umount2(".", MNT_DETACH) != 0) return SysError("detach old root");
  if (::chdir("/") != 0) return SysError("chdir /");
  return absl::OkStatus();
}

}  // namespace

absl::Status RemountBind(const std::string& path, unsigned long flags, const std::string& what) {
  unsigned long base = MS_BIND | MS_REMOUNT;
  if (::mount(nullptr, path.c_str(), nullptr, base | flags, nullptr) == 0) {
    return absl::OkStatus();
  }
  if (errno != EPERM) return SysError(absl::StrCat(what, ": remount"));
  if (::mount(nullptr, path.c_str(), nullptr, base | flags | CurrentMountFlags(path), nullptr) !=
      0) {
    return SysError(absl::StrCat(what, ": remount"));
  }
  return absl::OkStatus();
}

absl::Status SetupRootfs(const spec::Spec& spec, const RootfsContext& context) {
  absl::StatusOr<unsigned long> propagation = ParsePropagation(spec.linux.rootfs_propagation);
  if (!propagation.ok()) return SysError(EINVAL, propagation.status().message());
  // Nothing mounted from here on may propagate back to the host (and pivot_root refuses a
  // shared parent mount).
  if (::mount(nullptr, "/", nullptr, *propagation, nullptr) != 0) {
    return SysError("set propagation of /");
  }
  RETURN_IF_ERROR(MountRoot(spec));
  UniqueFd root(::open(spec.root.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return SysError(absl::StrCat("open rootfs ", spec.root.path));
  for (const spec::Mount& m : spec.mounts) {
    RETURN_IF_ERROR(MountOne(root.get(), m, context));
  }
  if (MountsFreshDev(spec)) RETURN_IF_ERROR(PopulateDev(root.get(), context.terminal_fd));
  return PivotRoot(root.get());
}

absl::Status FinishRootfs(const spec::Spec& spec) {
  for (const std::string& path : spec.linux.masked_paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return SysError(absl::StrCat("mask ", path));
    }
    int rc = S_ISDIR(st.st_mode) ? ::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, nullptr)
                                 : ::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr);
    if (rc != 0 && errno != ENOENT) return SysError(absl::StrCat("mask ", path));
  }
  for (const std::string& path : spec.linux.readonly_paths) {
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      return SysError(absl::StrCat("bind read-only path ", path));
    }
    RETURN_IF_ERROR(RemountBind(path, MS_RDONLY | CurrentMountFlags(path),
                                absl::StrCat("read-only path ", path)));
  }
  if (spec.root.readonly) {
    RETURN_IF_ERROR(RemountBind("/", MS_RDONLY | CurrentMountFlags("/"), "read-only rootfs"));
  }
  return absl::OkStatus();
}

}  // namespace berth::container_internal
