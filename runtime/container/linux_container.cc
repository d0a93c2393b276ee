// CreateContainer and the parent side of the container protocol (see container.h).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroup/cgroup_self_join.h"
#include "runtime/container/container.h"
#include "runtime/container/container_init.h"
#include "runtime/container/mount_options.h"
#include "runtime/container/namespaces.h"
#include "runtime/container/prepared_mounts.h"
#include "runtime/container/process_setup.h"
#include "runtime/container/sync_channel.h"
#include "runtime/container/user_namespace.h"
#include "runtime/seccomp/seccomp_filter.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace berth {

namespace {

using container_internal::ExpectMessage;
using container_internal::NamespacePlan;
using container_internal::SyncChannel;
using container_internal::SyncKind;

// What CreateContainer needs beyond ValidateSpec.
absl::Status CheckRuntimeSpec(const spec::Spec& spec, const NamespacePlan& plan,
                              const ContainerStdio& stdio, const CreateOptions& options) {
  // A joined mount namespace (with a path) gets the root file system set up in it, as with
  // runc; running in the caller's own mount namespace is refused: pivot_root there would move
  // the node's root.
  if (!spec.HasNamespace("mount")) {
    return absl::InvalidArgumentError(
        "linux.namespaces: a \"mount\" namespace (new, or joined by path) is required");
  }
  if (plan.joins_user) {
    // The namespaces clone() makes would belong to the node's user namespace, not the
    // joined one, and the container's root could not set them up.
    return absl::InvalidArgumentError(
        "linux.namespaces: joining an existing user namespace (a \"user\" entry with a path) is "
        "not supported; ask for a new one with linux.uidMappings and linux.gidMappings");
  }
  if (plan.new_user && (!container_internal::HostIdOf(0, spec.linux.uid_mappings) ||
                        !container_internal::HostIdOf(0, spec.linux.gid_mappings))) {
    return absl::InvalidArgumentError(
        "linux.uidMappings: a new user namespace must map the container's root (id 0) in both "
        "linux.uidMappings and linux.gidMappings");
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const spec::Mount& m = spec.mounts[i];
    container_internal::MountOptions opts = container_internal::ParseMountOptions(m.options);
    if (!container_internal::IsBindMount(m)) {
      if (opts.idmap) {
        return absl::InvalidArgumentError(
            absl::StrCat("mounts[", i, "].options: \"idmap\" applies to bind mounts only"));
      }
      continue;
    }
    // Filesystem options (opts.data) on a bind are what the kernel ignores for MS_BIND; runc
    // and crun pass them on the same way, and shared configs (a tmpfs turned into a bind)
    // carry them.
    if ((opts.idmap || !m.uid_mappings.empty()) && !plan.new_user) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mounts[", i, "]: an idmapped bind needs the container to have a user namespace"));
    }
  }
  if ((!spec.linux.mount_label.empty() || !spec.process.selinux_label.empty()) &&
      ::access("/sys/fs/selinux/enforce", F_OK) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        spec.linux.mount_label.empty() ? "process.selinuxLabel" : "linux.mountLabel",
        ": SELinux is enabled on this node and Berth cannot apply labels; remove the label"));
  }
  if (!spec.hostname.empty() && !plan.has_uts) {
    return absl::InvalidArgumentError("hostname: setting it needs a uts namespace");
  }
  if (spec.root.path.empty() || spec.root.path[0] != '/') {
    return absl::InvalidArgumentError("root.path: must be an absolute path");
  }
  if (spec.process.terminal && stdio.terminal < 0 && options.console_socket_fd < 0) {
    return absl::InvalidArgumentError("process.terminal: no terminal fd or console socket was given");
  }
  if (spec.process.terminal && stdio.terminal < 0) {
    bool has_devpts = std::any_of(spec.mounts.begin(), spec.mounts.end(), [](const spec::Mount& m) {
      return m.destination == "/dev/pts" && m.type == "devpts";
    });
    if (!has_devpts) {
      return absl::InvalidArgumentError(
          "process.terminal: the container's terminal is opened in its own /dev/pts, so mounts "
          "needs a devpts mount at /dev/pts (with \"newinstance\")");
    }
  }
  absl::StatusOr<unsigned long> propagation =
      container_internal::ParsePropagation(spec.linux.rootfs_propagation);
  if (!propagation.ok()) return propagation.status();
  const spec::LinuxResources& r = spec.linux.resources;
  bool has_resources = r != spec::LinuxResources{};
  if (spec.linux.cgroups_path.empty() && has_resources) {
    return absl::InvalidArgumentError("linux.cgroupsPath: resources need a cgroup path");
  }
  return absl::OkStatus();
}

}  // namespace

CgroupResources CgroupResourcesFor(const spec::LinuxResources& r) {
  CgroupResources out;
  out.memory_limit_bytes = r.memory_limit;
  out.memory_reservation_bytes = r.memory_reservation;
  out.memory_swap_bytes = r.memory_swap;
  out.memory_kernel_bytes = r.memory_kernel;
  out.memory_kernel_tcp_bytes = r.memory_kernel_tcp;
  out.memory_swappiness = r.memory_swappiness;
  out.disable_oom_killer = r.memory_disable_oom_killer;
  out.cpu_quota_us = r.cpu_quota;
  out.cpu_period_us = r.cpu_period;
  out.cpu_shares = r.cpu_shares;
  out.cpu_rt_runtime_us = r.cpu_realtime_runtime;
  out.cpu_rt_period_us = r.cpu_realtime_period;
  out.cpuset_cpus = r.cpu_cpus;
  out.cpuset_mems = r.cpu_mems;
  out.pids_limit = r.pids_limit;
  std::vector<CgroupDeviceRule> devices;
  for (const spec::DeviceRule& d : spec::DeviceRulesFor(r)) {
    devices.push_back({d.allow, d.type[0], d.major.value_or(-1), d.minor.value_or(-1), d.access});
  }
  out.devices = std::move(devices);
  return out;
}

namespace {

class LinuxCreatedContainer final : public CreatedContainer {
 public:
  LinuxCreatedContainer(pid_t pid, UniqueFd pidfd, SyncChannel channel, CgroupDriver& cgroups,
                        std::string cgroup_path)
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        channel_(std::move(channel)),
        cgroups_(cgroups),
        cgroup_path_(std::move(cgroup_path)) {}

  ~LinuxCreatedContainer() override {
    if (started_ || released_) return;
    if (!reaped_) {
      // Through the pidfd: the pid cannot have been reused behind our back.
      ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
      siginfo_t info;
      while (::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED) != 0 &&
             errno == EINTR) {
      }
    }
    if (!cgroup_path_.empty()) cgroups_.Destroy(cgroup_path_).IgnoreError();
  }

  pid_t pid() const override { return pid_; }

  void Release() override {
    released_ = true;
    channel_.Close();
  }

  absl::Status Start() override {
    if (started_) return absl::FailedPreconditionError("start container: already started");
    if (!channel_.valid()) {
      return absl::FailedPreconditionError("start container: a previous start failed");
    }
    absl::Status st = StartImpl();
    channel_.Close();
    if (st.ok()) started_ = true;
    return Annotate(st, "start container");
  }

  // Step 4 of the protocol, seen from the parent: the child is ready or says why not.
  absl::Status AwaitReady() {
    absl::StatusOr<std::optional<container_internal::SyncMessage>> msg = channel_.Receive();
    if (!msg.ok()) return msg.status();
    if (!msg->has_value()) return InitDied("container init exited before it was ready");
    if ((*msg)->kind == SyncKind::kError) return (*msg)->status;
    if ((*msg)->kind != SyncKind::kReady) return absl::InternalError("sync: expected ready");
    return absl::OkStatus();
  }

  absl::Status SendParentDone(const std::vector<int>& fds) {
    return channel_.Send(SyncKind::kParentDone, fds);
  }

 private:
  absl::Status StartImpl() {
    if (released_) return absl::FailedPreconditionError("released to its start FIFO");
    RETURN_IF_ERROR(channel_.Send(SyncKind::kGo));
    absl::StatusOr<std::optional<container_internal::SyncMessage>> msg = channel_.Receive();
    if (!msg.ok()) return msg.status();
    if (!msg->has_value()) return absl::OkStatus();  // CLOEXEC channel closed by exec
    if ((*msg)->kind == SyncKind::kError) return (*msg)->status;
    return absl::InternalError("sync: unexpected message after go");
  }

  absl::Status InitDied(absl::string_view what) {
    siginfo_t info = {};
    int rc;
    do {
      rc = ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return absl::InternalError(what);
    reaped_ = true;
    std::string how = info.si_code == CLD_EXITED
                          ? absl::StrCat("exit status ", info.si_status)
                          : absl::StrCat("killed by signal ", info.si_status);
    return absl::InternalError(absl::StrCat(what, " (", how, ")"));
  }

  pid_t pid_;
  UniqueFd pidfd_;
  SyncChannel channel_;
  CgroupDriver& cgroups_;
  std::string cgroup_path_;
  bool started_ = false;
  bool released_ = false;
  bool reaped_ = false;
};

// Step 3, with a user namespace: the id maps, the cgroup handed to the container's root,
// and the mounts that need the namespace (idmapped layers and binds, the root built on them).
absl::Status SetUpUserNamespace(const spec::Spec& spec, pid_t pid, CgroupDriver& cgroups,
                                container_internal::PreparedMounts& mounts) {
  RETURN_IF_ERROR(container_internal::WriteIdMappings(pid, spec.linux.uid_mappings,
                                                      spec.linux.gid_mappings));
  uint32_t root_uid = *container_internal::HostIdOf(0, spec.linux.uid_mappings);
  uint32_t root_gid = *container_internal::HostIdOf(0, spec.linux.gid_mappings);
  if (!spec.linux.cgroups_path.empty()) {
    RETURN_IF_ERROR(Annotate(cgroups.Delegate(spec.linux.cgroups_path, root_uid, root_gid),
                             "delegate the cgroup to the container's root"));
  }
  ASSIGN_OR_RETURN(UniqueFd userns, container_internal::OpenUserNamespace(pid));
  return container_internal::FinishInUserNamespace(spec, userns.get(), mounts);
}

absl::StatusOr<std::unique_ptr<CreatedContainer>> CreateContainerImpl(
    const spec::Spec& spec, const ContainerStdio& stdio, CgroupDriver& cgroups,
    const seccomp::Program* precompiled, const CreateOptions& options) {
  RETURN_IF_ERROR(spec::ValidateSpec(spec));
  ASSIGN_OR_RETURN(NamespacePlan plan, container_internal::PlanNamespaces(spec));
  RETURN_IF_ERROR(CheckRuntimeSpec(spec, plan, stdio, options));
  RETURN_IF_ERROR(container_internal::CheckRlimitsAllowed(spec.process.rlimits));
  if (options.preserve_fds < 0) return absl::InvalidArgumentError("preserve_fds: must not be negative");
  for (int fd = 3; fd < 3 + options.preserve_fds; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("preserve_fds: fd ", fd, " is not open (", options.preserve_fds, " fds from 3 were asked for)"));
    }
  }

  // Compiled here, where allocation is free; the child only loads it.
  std::optional<seccomp::Program> compiled;
  const seccomp::Program* filter = precompiled;
  if (filter == nullptr && spec.linux.seccomp.has_value()) {
    absl::StatusOr<seccomp::Program> program = seccomp::Compile(*spec.linux.seccomp);
    if (!program.ok()) return Annotate(program.status(), "linux.seccomp");
    compiled = std::move(*program);
    filter = &*compiled;
  }

  // Opened here, in the host's mount namespace, for stdio fds of -1.
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return ErrnoToStatus("open /dev/null");

  // Step 1: the cgroup, with its limits, exists before the child does.
  const std::string& cgroup_path = spec.linux.cgroups_path;
  bool cgroup_made = false;
  absl::Cleanup destroy_cgroup = [&] {
    if (cgroup_made) cgroups.Destroy(cgroup_path).IgnoreError();
  };
  if (!cgroup_path.empty()) {
    absl::StatusOr<CgroupOrigin> origin = cgroups.Create(cgroup_path);
    if (!origin.ok()) return Annotate(origin.status(), "create cgroup");
    cgroup_made = true;
    RETURN_IF_ERROR(Annotate(cgroups.Apply(cgroup_path, CgroupResourcesFor(spec.linux.resources), *origin),
                             "apply cgroup resources"));
  }

  // The root and the binds, as detached mounts the child attaches (see prepared_mounts.h).
  ASSIGN_OR_RETURN(container_internal::PreparedMounts mounts,
                   container_internal::PrepareMounts(spec, plan.new_user));

  SyncChannel parent_end, child_end;
  RETURN_IF_ERROR(SyncChannel::MakePair(&parent_end, &child_end));
  // Init writes itself into the cgroup: see cgroup_self_join.h.
  absl::StatusOr<CgroupSelfJoin> cgroup_join = CgroupSelfJoin::Open(cgroups, cgroup_path);
  if (!cgroup_join.ok()) return Annotate(cgroup_join.status(), "open the cgroup for init");

  // Step 2: clone into the new namespaces. A raw clone with no stack returns in both
  // processes like fork(); CLONE_PIDFD gives a handle that cannot be confused with a
  // reused pid.
  int pidfd = -1;
  long pid;
  {
    ASSIGN_OR_RETURN(container_internal::PidNamespaceForChildren pid_ns,
                     container_internal::PidNamespaceForChildren::Enter(plan.pid_join));
    pid = ::syscall(SYS_clone, static_cast<unsigned long>(plan.clone_flags) | CLONE_PIDFD | SIGCHLD,
                    nullptr, &pidfd, nullptr, nullptr);
    if (pid == 0) {
      container_internal::InitArgs args;
      args.spec = &spec;
      args.stdio = &stdio;
      args.plan = &plan;
      args.mounts = &mounts;
      args.seccomp = filter;
      args.channel = &child_end;
      args.parent_channel = &parent_end;
      args.devnull_fd = devnull.get();
      args.options = &options;
      args.cgroup_join = &*cgroup_join;
      container_internal::RunContainerInit(args);
    }
  }
  if (pid < 0) return ErrnoToStatus("clone");
  child_end.Close();
  cgroup_join->Close();

  // From here the container object owns the child and the cgroup: an early return kills
  // the one and destroys the other.
  cgroup_made = false;
  auto container = std::make_unique<LinuxCreatedContainer>(
      static_cast<pid_t>(pid), UniqueFd(pidfd), std::move(parent_end), cgroups, cgroup_path);
  std::vector<int> fds;
  if (plan.new_user) {
    RETURN_IF_ERROR(SetUpUserNamespace(spec, static_cast<pid_t>(pid), cgroups, mounts));
    fds.push_back(mounts.root.get());
  }
  if (options.on_cloned) options.on_cloned(static_cast<pid_t>(pid));
  RETURN_IF_ERROR(container->SendParentDone(fds));
  if (options.while_init_sets_up) options.while_init_sets_up();
  RETURN_IF_ERROR(container->AwaitReady());
  return std::unique_ptr<CreatedContainer>(std::move(container));
}

}  // namespace

absl::StatusOr<std::unique_ptr<CreatedContainer>> CreateContainer(
    const spec::Spec& spec, const ContainerStdio& stdio, CgroupDriver& cgroups,
    const seccomp::Program* seccomp, const CreateOptions& options) {
  absl::StatusOr<std::unique_ptr<CreatedContainer>> created =
      CreateContainerImpl(spec, stdio, cgroups, seccomp, options);
  if (!created.ok()) return Annotate(created.status(), "create container");
  return created;
}

}  // namespace berth
