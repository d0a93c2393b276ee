// Create: the container's init, held at the start FIFO, and its record.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/container.h"
#include "runtime/lifecycle/console_socket.h"
#include "runtime/container/hooks.h"
#include "runtime/lifecycle/lifecycle.h"

namespace berth::lifecycle {

namespace {

std::string Rfc3339Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", absl::Now(), absl::UTCTimeZone());
}

// Without a cgroupsPath the container still gets a cgroup of its own (kill --all, pause and
// ps need one), below the caller's; either way the record keeps it absolute.
absl::StatusOr<std::string> ChooseCgroupPath(const spec::Spec& spec, const std::string& id,
                                             CgroupDriver& cgroups) {
  std::string path = spec.linux.cgroups_path.empty() ? "berth-runtime/" + id : spec.linux.cgroups_path;
  // runc's systemd form ("slice:prefix:name") needs systemd, which this runtime does not drive.
  if (path.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "linux.cgroupsPath ", Quoted(path), ": the systemd form (slice:prefix:name) needs "
        "--systemd-cgroup, and systemd cgroups are not supported; give a cgroupfs path"));
  }
  absl::StatusOr<std::string> absolute = cgroups.AbsolutePath(path);
  if (!absolute.ok()) return Annotate(absolute.status(), "linux.cgroupsPath");
  return absolute;
}

absl::StatusOr<ContainerRecord> CreateLocked(const Runtime& rt, const CreateRequest& request) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string bundle = fs::absolute(request.bundle, ec).lexically_normal().string();
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bundle ", Quoted(request.bundle), ": ", ec.message()));
  while (bundle.size() > 1 && bundle.back() == '/') bundle.pop_back();
  ASSIGN_OR_RETURN(spec::Spec spec, spec::LoadBundle(bundle));
  ASSIGN_OR_RETURN(spec.linux.cgroups_path, ChooseCgroupPath(spec, request.id, rt.cgroups));

  ContainerRecord record;
  record.oci_version = spec.oci_version;
  record.id = request.id;
  record.bundle = bundle;
  record.rootfs = spec.root.path;
  record.cgroups_path = spec.linux.cgroups_path;
  record.annotations = spec.annotations;
  record.created = Rfc3339Now();
  // The hooks that run after the bundle may be gone (poststop) read this copy.
  RETURN_IF_ERROR(WriteFileAtomic(rt.store.ConfigPath(request.id), spec::SerializeSpec(spec), 0600,
                                  Durability::kProcessCrashSafe));

  const std::string fifo = rt.store.FifoPath(request.id);
  if (::mkfifo(fifo.c_str(), 0600) != 0) return ErrnoToStatus(absl::StrCat("mkfifo ", fifo));
  // Read and write: init's blocking read then never sees end-of-file while it waits.
  UniqueFd fifo_fd(::open(fifo.c_str(), O_RDWR | O_CLOEXEC));
  if (!fifo_fd) return ErrnoToStatus(absl::StrCat("open ", fifo));
  const std::string exec_error = rt.store.ExecErrorPath(request.id);
  UniqueFd exec_error_fd(::open(exec_error.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!exec_error_fd) return ErrnoToStatus(absl::StrCat("open ", exec_error));

  ContainerStdio stdio{0, 1, 2, -1};
  UniqueFd console;
  if (spec.process.terminal) {
    if (request.console_socket.empty()) {
      return absl::InvalidArgumentError(
          "process.terminal is true but no --console-socket was given to receive the terminal");
    }
    ASSIGN_OR_RETURN(console, ConnectConsoleSocket(request.console_socket));
  } else if (!request.console_socket.empty()) {
    return absl::InvalidArgumentError(
        "--console-socket was given but process.terminal is false: there is no terminal to send");
  }

  CreateOptions options;
  options.start_fifo_fd = fifo_fd.get();
  options.exec_error_fd = exec_error_fd.get();
  options.preserve_fds = request.preserve_fds;
  options.no_pivot = request.no_pivot;
  options.console_socket_fd = console ? console.get() : -1;
  options.start_container_hooks = spec.hooks.start_container;
  // As runc: the state as init sees it, its pid its own in the container's pid namespace.
  options.start_container_state = [record](pid_t init_pid) {
    ContainerRecord seen = record;
    seen.pid = init_pid;
    return StateJson(seen, ContainerStatus::kCreated, -1);
  };
  ASSIGN_OR_RETURN(std::unique_ptr<CreatedContainer> container,
                   CreateContainer(spec, stdio, rt.cgroups, nullptr, options));
  // Until Release() below, dropping `container` kills init and destroys the cgroup.
  record.pid = container->pid();
  ASSIGN_OR_RETURN(record.pid_start_time, ProcessStartTime(record.pid));
  RETURN_IF_ERROR(rt.store.Save(record));

  HookRun hooks{"", StateJson(record, ContainerStatus::kCreated, -1)};
  hooks.field = "hooks.prestart";
  RETURN_IF_ERROR(RunHooks(spec.hooks.prestart, hooks));
  hooks.field = "hooks.createRuntime";
  RETURN_IF_ERROR(RunHooks(spec.hooks.create_runtime, hooks));
  hooks.field = "hooks.createContainer";
  hooks.mount_namespace_of = record.pid;
  hooks.mount_namespace_start_time = record.pid_start_time;
  RETURN_IF_ERROR(RunHooks(spec.hooks.create_container, hooks));

  if (!request.pid_file.empty()) {
    RETURN_IF_ERROR(Annotate(WriteFileAtomic(request.pid_file, absl::StrCat(record.pid), 0644,
                                             Durability::kProcessCrashSafe),
                             "write the pid file"));
  }
  container->Release();
  return record;
}

}  // namespace

absl::StatusOr<ContainerRecord> Create(const Runtime& rt, const CreateRequest& request) {
  ASSIGN_OR_RETURN(StateLock lock, rt.store.CreateDir(request.id));
  absl::StatusOr<ContainerRecord> record = CreateLocked(rt, request);
  if (!record.ok()) {
    // The container (init, cgroup) is gone with its owner; its directory goes too.
    rt.store.Remove(request.id).IgnoreError();
    return Annotate(record.status(), absl::StrCat("create ", Quoted(request.id)));
  }
  return record;
}

}  // namespace berth::lifecycle
