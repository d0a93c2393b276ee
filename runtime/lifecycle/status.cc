// CurrentStatus and State/List: what a container is doing now, read from its init.
#include "runtime/base/proc_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/lifecycle.h"

namespace berth::lifecycle {

LiveContainer LiveOf(const ContainerRecord& record) {
  return LiveContainer{record.pid, record.pid_start_time, record.cgroups_path};
}

ContainerStatus CurrentStatus(const ContainerRecord& record) {
  if (record.pid <= 0 || !ProcessAlive(record.pid, record.pid_start_time)) {
    return ContainerStatus::kStopped;
  }
  if (!record.started) return ContainerStatus::kCreated;
  return record.paused ? ContainerStatus::kPaused : ContainerStatus::kRunning;
}

absl::StatusOr<StateView> State(const Runtime& rt, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  ContainerStatus status = CurrentStatus(record);
  return StateView{std::move(record), status};
}

std::vector<StateView> List(const Runtime& rt) {
  std::vector<StateView> out;
  for (const std::string& id : rt.store.Ids()) {
    absl::StatusOr<StateView> view = State(rt, id);
    if (view.ok()) out.push_back(std::move(*view));
  }
  return out;
}

}  // namespace berth::lifecycle
