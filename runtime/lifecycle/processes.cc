// Processes: the pids of the container's cgroup (ps).
#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/lifecycle.h"

namespace berth::lifecycle {

absl::StatusOr<std::vector<pid_t>> Processes(const Runtime& rt, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  absl::StatusOr<std::vector<pid_t>> pids = rt.cgroups.Processes(record.cgroups_path);
  if (!pids.ok() && absl::IsNotFound(pids.status())) return std::vector<pid_t>{};
  return pids;
}

}  // namespace berth::lifecycle
