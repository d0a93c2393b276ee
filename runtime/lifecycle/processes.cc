// Processes: the pids of the container's cgroup (ps).
#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/lifecycle.h"
#include "runtime/lifecycle/live_container.h"

namespace berth::lifecycle {

absl::StatusOr<std::vector<pid_t>> ContainerProcesses(CgroupDriver& cgroups, const LiveContainer& container) {
  absl::StatusOr<std::vector<pid_t>> pids = cgroups.Processes(container.cgroups_path);
  if (!pids.ok() && absl::IsNotFound(pids.status())) return std::vector<pid_t>{};
  return pids;
}

absl::StatusOr<std::vector<pid_t>> Processes(const Runtime& rt, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  return ContainerProcesses(rt.cgroups, LiveOf(record));
}

}  // namespace berth::lifecycle
