// Delete: the processes and cgroup of a container that is done, its state, then poststop.
#include <signal.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/hooks.h"
#include "runtime/lifecycle/lifecycle.h"
#include "runtime/lifecycle/live_container.h"

namespace berth::lifecycle {

absl::Status DestroyContainer(CgroupDriver& cgroups, const LiveContainer& container) {
  if (container.pid > 0) {
    absl::Status killed = SignalProcess(container.pid, container.pid_start_time, SIGKILL);
    if (!killed.ok() && !absl::IsNotFound(killed)) return killed;
  }
  if (container.cgroups_path.empty()) return absl::OkStatus();
  // Thaws, kills whatever is left (init's descendants too) and removes the cgroup.
  return cgroups.Destroy(container.cgroups_path);
}

void RemoveUnknownCgroups(CgroupDriver& cgroups, const std::string& parent,
                          const std::function<bool(const std::string& name)>& keep) {
  std::set<std::string> unknown;
  // Every controller: a crash may have left a container's cgroup in some hierarchies only.
  for (const char* controller : {"pids", "memory", "cpu", "freezer", "devices", "cpuset", "blkio"}) {
    absl::StatusOr<std::string> dir = cgroups.Directory(parent, controller);
    if (!dir.ok()) continue;
    for (const std::string& name : ListDirectory(*dir)) {
      if (!keep(name)) unknown.insert(name);
    }
  }
  for (const std::string& name : unknown) cgroups.Destroy(parent + "/" + name).IgnoreError();
}

absl::Status Delete(const Runtime& rt, const std::string& id, bool force) {
  ASSIGN_OR_RETURN(StateLock lock, rt.store.Lock(id));
  absl::StatusOr<ContainerRecord> loaded = rt.store.Load(id);
  if (!loaded.ok()) {
    // A directory without a record is what a create killed half-way leaves: remove it.
    if (absl::IsNotFound(loaded.status())) rt.store.Remove(id).IgnoreError();
    return loaded.status();
  }
  ContainerRecord& record = *loaded;
  ContainerStatus status = CurrentStatus(record);
  if ((status == ContainerStatus::kRunning || status == ContainerStatus::kPaused) && !force) {
    return absl::FailedPreconditionError(absl::StrCat("cannot delete container ", Quoted(id), ": it is ",
                                                      StatusName(status), " (stop it, or use --force)"));
  }
  LiveContainer live = LiveOf(record);
  if (status == ContainerStatus::kStopped) live.pid = 0;  // its pid may be another's now
  RETURN_IF_ERROR(DestroyContainer(rt.cgroups, live));

  absl::StatusOr<std::string> config = ReadFile(rt.store.ConfigPath(id));
  absl::StatusOr<spec::Spec> spec =
      config.ok() ? spec::ParseSpec(*config) : absl::StatusOr<spec::Spec>(config.status());
  RETURN_IF_ERROR(rt.store.Remove(id));
  if (spec.ok()) {
    HookRun hooks{"hooks.poststop", StateJson(record, ContainerStatus::kStopped, -1)};
    // The spec: a failing poststop hook is a warning, the container is gone either way.
    if (absl::Status st = RunHooks(spec->hooks.poststop, hooks); !st.ok()) {
      return absl::Status(absl::StatusCode::kAborted, absl::StrCat("container deleted, but ", st.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::lifecycle
