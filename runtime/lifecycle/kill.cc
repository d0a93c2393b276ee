// Kill: a signal to init, or to every process of the container's cgroup.
#include "absl/strings/str_cat.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/lifecycle.h"

namespace berth::lifecycle {

absl::Status Kill(const Runtime& rt, const std::string& id, int signal, bool all) {
  ASSIGN_OR_RETURN(StateLock lock, rt.store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  ContainerStatus status = CurrentStatus(record);
  if (status == ContainerStatus::kStopped && !all) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot kill container ", Quoted(id), ": it is not running"));
  }
  if (!all) return SignalProcess(record.pid, record.pid_start_time, signal);
  absl::StatusOr<std::vector<pid_t>> pids = rt.cgroups.Processes(record.cgroups_path);
  if (!pids.ok()) return absl::IsNotFound(pids.status()) ? absl::OkStatus() : pids.status();
  for (pid_t pid : *pids) {
    // Pids read from the cgroup a moment ago: a process that left since is not an error.
    SignalProcess(pid, 0, signal).IgnoreError();
  }
  return absl::OkStatus();
}

}  // namespace berth::lifecycle
