#include "runtime/container/rootfs.h"

#include <fcntl.h>
#include <sys/ioctl.h>
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
#include "runtime/container/bind_parking.h"
#include "runtime/container/dev_setup.h"
#include "runtime/container/mount_api.h"
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

// A bind the parent prepared as a detached mount: attached onto a target made inside the root.
absl::Status AttachBind(int root_fd, const spec::Mount& m, int bind_fd, int parking_fd,
                        const MountOptions& opts) {
  std::string what = absl::StrCat("mount bind ", m.source, " on ", m.destination);
  struct stat st;
  if (::fstat(bind_fd, &st) != 0) return SysError(what);
  absl::StatusOr<UniqueFd> target =
      MakePathInRoot(root_fd, m.destination, S_ISDIR(st.st_mode) ? LeafKind::kDirectory : LeafKind::kFile);
  if (!target.ok()) return WithContext(target.status(), what);
  // Mounts are listed (mountinfo) in the order they were made, and the parent made this one
  // before the container's namespace existed. Once attached it can be copied (a detached
  // mount cannot be from here), and the copy, made now, takes its place in spec.mounts' order.
  // The original is attached for that at its parking spot when it has one (bind_parking.h),
  // and leaves with the old root; otherwise on the target, from where it is unmounted.
  UniqueFd copy;
  if (parking_fd >= 0 && AttachMount(bind_fd, parking_fd, what).ok()) {
    absl::StatusOr<UniqueFd> cloned = CloneMountTree(bind_fd, "", opts.recursive);
    if (cloned.ok()) copy = std::move(*cloned);
    RETURN_IF_ERROR(AttachMount(copy ? copy.get() : bind_fd, target->get(), what));
  } else {
    RETURN_IF_ERROR(AttachMount(bind_fd, target->get(), what));
    absl::StatusOr<UniqueFd> cloned = CloneMountTree(bind_fd, "", opts.recursive);
    if (cloned.ok()) {
      if (::umount2(FdPath(bind_fd).c_str(), MNT_DETACH) != 0) return SysError(absl::StrCat(what, ": replace"));
      copy = std::move(*cloned);
      RETURN_IF_ERROR(AttachMount(copy.get(), target->get(), what));
    }
  }
  if (copy) bind_fd = copy.get();
  if (opts.propagation != 0 &&
      ::mount(nullptr, FdPath(bind_fd).c_str(), nullptr, opts.propagation, nullptr) != 0) {
    return SysError(absl::StrCat(what, ": set propagation"));
  }
  return absl::OkStatus();
}

absl::Status MountOne(int root_fd, const spec::Mount& m, int bind_fd, int parking_fd,
                      const RootfsContext& context) {
  MountOptions opts = ParseMountOptions(m.options);
  if (bind_fd >= 0) return AttachBind(root_fd, m, bind_fd, parking_fd, opts);
  std::string what = absl::StrCat("mount ", m.type, " on ", m.destination);
  absl::StatusOr<UniqueFd> target = MakePathInRoot(root_fd, m.destination, LeafKind::kDirectory);
  if (!target.ok()) return WithContext(target.status(), what);
  std::string target_path = FdPath(target->get());

  if (m.type == "cgroup") {
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

// Leaves the old root stacked on the new one at "/" and returns it: DetachOldRoot takes it
// away. Lookups start at the process's root (the new root's own dentry) and never cross into
// a mount stacked on it, so until then the set-up inside the root sees only the new tree.
absl::StatusOr<UniqueFd> PivotRoot(int root_fd) {
  UniqueFd old_root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!old_root) return SysError("open the old root");
  if (::fchdir(root_fd) != 0) return SysError("chdir to rootfs");
  // pivot_root(".", "."): the old root ends up stacked on the new one at "/", from where it
  // is detached; no directory for it is needed in the image.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return SysError("pivot_root");
  if (::chdir("/") != 0) return SysError("chdir /");
  return old_root;
}

// runc's --no-pivot, for a root that pivot_root cannot leave (an initramfs): the rootfs is
// moved over "/" and chrooted into. The node's tree stays beneath it, where a process that
// may chroot again (CAP_SYS_CHROOT) can reach it: the reason pivot_root is the default.
absl::Status MoveRoot(int root_fd) {
  if (::fchdir(root_fd) != 0) return SysError("chdir to rootfs");
  if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return SysError("move the rootfs over / (--no-pivot)");
  if (::chroot(".") != 0) return SysError("chroot into the rootfs (--no-pivot)");
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

absl::StatusOr<UniqueFd> SetupRootfs(const spec::Spec& spec, const RootfsContext& context) {
  absl::StatusOr<unsigned long> propagation = ParsePropagation(spec.linux.rootfs_propagation);
  if (!propagation.ok()) return SysError(EINVAL, propagation.status().message());
  // Nothing mounted from here on may propagate back to the host, and pivot_root refuses a
  // shared parent mount and an unbindable old root: those two are set up as rslave and get
  // their propagation once the container's root is "/" (FinishRootfs), as runc does.
  const unsigned long kind = *propagation & (MS_SHARED | MS_UNBINDABLE);
  const unsigned long old_root_propagation = kind != 0 ? (MS_SLAVE | MS_REC) : *propagation;
  if (::mount(nullptr, "/", nullptr, old_root_propagation, nullptr) != 0) {
    return SysError("set propagation of /");
  }
  PreparedMounts& mounts = *context.mounts;
  // "private" and "slave" alone leave the mounts below "/" as they were.
  const bool old_root_unshared = (old_root_propagation & MS_REC) != 0 &&
                                 (old_root_propagation & (MS_PRIVATE | MS_SLAVE)) != 0;
  std::vector<UniqueFd> parking = OpenParkingSpots(spec, mounts, context.no_pivot, old_root_unshared);
  {
    UniqueFd target(::open(spec.root.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!target) {
      int err = errno;
      return SysError(err, absl::StrCat("open rootfs ", spec.root.path,
                                        err == EACCES && context.user_namespace
                                            ? " (the container's root, an unprivileged id on the node, needs search "
                                              "permission on every directory up to it)"
                                            : ""));
    }
    RETURN_IF_ERROR(AttachMount(mounts.root.get(), target.get(),
                                absl::StrCat("attach rootfs on ", spec.root.path)));
  }
  // The attached mount's own fd names the new root; root.path is never resolved again.
  const int root = mounts.root.get();
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    int bind_fd = i < mounts.binds.size() ? mounts.binds[i].get() : -1;
    int parking_fd = i < parking.size() ? parking[i].get() : -1;
    RETURN_IF_ERROR(MountOne(root, spec.mounts[i], bind_fd, parking_fd, context));
  }
  int terminal_fd = context.terminal_fd;
  if (context.new_pty != nullptr) {
    RETURN_IF_ERROR(OpenContainerPty(root, *context.new_pty));
    terminal_fd = context.new_pty->slave.get();
  }
  if (MountsFreshDev(spec)) {
    RETURN_IF_ERROR(PopulateDev(root, terminal_fd, context.user_namespace));
  }
  RETURN_IF_ERROR(MakeDevices(root, spec.linux.devices, context.user_namespace));
  if (context.no_pivot) {
    RETURN_IF_ERROR(MoveRoot(root));
    return UniqueFd();
  }
  return PivotRoot(root);
}

absl::Status DetachOldRoot(UniqueFd old_root) {
  if (!old_root) return absl::OkStatus();
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cwd) return SysError("open the working directory");
  // "." must name the old root, not the new one below it: made rslave, the new root's binds
  // would leave their host peer groups, and an rshared volume would no longer carry the
  // container's mounts back to the node.
  if (::fchdir(old_root.get()) != 0) return SysError("chdir to the old root");
  // Slave first so that the detach below cannot propagate to the host.
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
    return SysError("make old root rslave");
  }
  if (::umount2(".", MNT_DETACH) != 0) return SysError("detach old root");
  if (::fchdir(cwd.get()) != 0) return SysError("chdir back to the working directory");
  return absl::OkStatus();
}

absl::Status FinishRootfs(const spec::Spec& spec) {
  absl::StatusOr<unsigned long> propagation = ParsePropagation(spec.linux.rootfs_propagation);
  if (!propagation.ok()) return SysError(EINVAL, propagation.status().message());
  if ((*propagation & (MS_SHARED | MS_UNBINDABLE)) != 0 &&
      ::mount(nullptr, "/", nullptr, *propagation, nullptr) != 0) {
    return SysError("set propagation of the container's root");
  }
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return SysError("open /");
  for (const std::string& path : spec.linux.masked_paths) {
    absl::StatusOr<UniqueFd> target = OpenInRoot(root.get(), path);
    if (!target.ok()) {
      if (ErrnoOf(target.status()) == ENOENT) continue;
      return WithContext(target.status(), absl::StrCat("mask ", path));
    }
    struct stat st;
    if (::fstat(target->get(), &st) != 0) return SysError(absl::StrCat("mask ", path));
    std::string at = FdPath(target->get());
    int rc = S_ISDIR(st.st_mode) ? ::mount("tmpfs", at.c_str(), "tmpfs", MS_RDONLY, nullptr)
                                 : ::mount("/dev/null", at.c_str(), nullptr, MS_BIND, nullptr);
    if (rc != 0) return SysError(absl::StrCat("mask ", path));
  }
  for (const std::string& path : spec.linux.readonly_paths) {
    absl::StatusOr<UniqueFd> target = OpenInRoot(root.get(), path);
    if (!target.ok()) {
      if (ErrnoOf(target.status()) == ENOENT) continue;
      return WithContext(target.status(), absl::StrCat("read-only path ", path));
    }
    std::string at = FdPath(target->get());
    if (::mount(at.c_str(), at.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return SysError(absl::StrCat("bind read-only path ", path));
    }
    // The bind went on top of the object the fd names: reach the new mount afresh.
    absl::StatusOr<UniqueFd> bound = OpenInRoot(root.get(), path);
    if (!bound.ok()) return WithContext(bound.status(), absl::StrCat("read-only path ", path));
    std::string bound_at = FdPath(bound->get());
    RETURN_IF_ERROR(RemountBind(bound_at, MS_RDONLY | CurrentMountFlags(bound_at),
                                absl::StrCat("read-only path ", path)));
  }
  if (spec.root.readonly) {
    RETURN_IF_ERROR(RemountBind("/", MS_RDONLY | CurrentMountFlags("/"), "read-only rootfs"));
  }
  return absl::OkStatus();
}

}  // namespace berth::container_internal
