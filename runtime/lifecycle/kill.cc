// Kill: a signal to init, or to every process of the container's cgroup.
#include "absl/strings/str_cat.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/lifecycle.h"
#include "runtime/lifecycle/live_container.h"

namespace berth::lifecycle {

absl::Status SignalContainer(CgroupDriver& cgroups, const LiveContainer& container, int signal, bool all) {
  if (!all) {
    if (container.pid <= 0) return absl::FailedPreconditionError("the container has no init process");
    return SignalProcess(container.pid, container.pid_start_time, signal);
  }
  absl::StatusOr<std::vector<pid_t>> pids = cgroups.Processes(container.cgroups_path);
  if (!pids.ok()) return absl::IsNotFound(pids.status()) ? absl::OkStatus() : pids.status();
  for (pid_t pid : *pids) {
    // Pids read from the cgroup a moment ago: a process that left since is not an error.
    SignalProcess(pid, 0, signal).IgnoreError();
  }
  return absl::OkStatus();
}

absl::Status Kill(const Runtime& rt, const std::string& id, int signal, bool all) {
  ASSIGN_OR_RETURN(StateLock lock, rt.store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  ContainerStatus status = CurrentStatus(record);
  if (status == ContainerStatus::kStopped && !all) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot kill container ", Quoted(id), ": it is not running"));
  }
  return SignalContainer(rt.cgroups, LiveOf(record), signal, all);
}

}  // namespace berth::lifecycle
