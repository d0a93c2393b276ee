// Exec: one more process inside a created or running container.
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/container.h"
#include "runtime/lifecycle/console_socket.h"
#include "runtime/lifecycle/lifecycle.h"
#include "runtime/seccomp/seccomp_filter.h"

namespace berth::lifecycle {

namespace {

absl::StatusOr<spec::Spec> RecordedSpec(const Runtime& rt, const std::string& id) {
  ASSIGN_OR_RETURN(std::string config, ReadFile(rt.store.ConfigPath(id)));
  return spec::ParseSpec(config);
}

}  // namespace

absl::StatusOr<spec::Process> ContainerProcess(const Runtime& rt, const std::string& id) {
  RETURN_IF_ERROR(rt.store.Load(id).status());  // NOT_FOUND naming the id
  ASSIGN_OR_RETURN(spec::Spec spec, RecordedSpec(rt, id));
  return spec.process;
}

absl::StatusOr<ExecStarted> Exec(const Runtime& rt, const ExecRequest& request) {
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(request.id));
  ContainerStatus status = CurrentStatus(record);
  if (status != ContainerStatus::kCreated && status != ContainerStatus::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("cannot exec in container ", Quoted(request.id),
                                                      ": it is ", StatusName(status)));
  }
  ASSIGN_OR_RETURN(spec::Spec spec, RecordedSpec(rt, request.id));
  std::optional<seccomp::Program> filter;
  if (spec.linux.seccomp.has_value()) {
    ASSIGN_OR_RETURN(filter, seccomp::Compile(*spec.linux.seccomp));
  }
  UniqueFd console;
  if (request.process.terminal) {
    if (request.console_socket.empty()) {
      return absl::InvalidArgumentError("exec -t needs --console-socket to receive the terminal");
    }
    ASSIGN_OR_RETURN(console, ConnectConsoleSocket(request.console_socket));
  }
  ExecOptions options;
  options.container_pid = record.pid;
  options.cgroups_path = record.cgroups_path;
  options.process = request.process;
  options.stdio = {0, 1, 2, -1};
  options.seccomp = filter ? &*filter : nullptr;
  options.console_socket_fd = console ? console.get() : -1;
  options.preserve_fds = request.preserve_fds;
  options.detach = request.detach;
  if (!request.pid_file.empty()) {
    // Written before the process may run (and exit): its reaper reads it to know it.
    options.before_exec = [&](pid_t process) {
      return Annotate(WriteFileAtomic(request.pid_file, absl::StrCat(process), 0644, Durability::kProcessCrashSafe),
                      "write the pid file");
    };
  }
  ASSIGN_OR_RETURN(ExecProcesses processes, StartExecInContainer(options, rt.cgroups));
  return ExecStarted{processes.helper, processes.process};
}

}  // namespace berth::lifecycle
