// Delete: the processes and cgroup of a container that is done, its state, then poststop.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/hooks.h"
#include "runtime/lifecycle/lifecycle.h"

namespace berth::lifecycle {

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
  if (status != ContainerStatus::kStopped) {
    RETURN_IF_ERROR(SignalProcess(record.pid, record.pid_start_time, SIGKILL));
  }
  // Thaws, kills whatever is left (init's descendants too) and removes the cgroup.
  RETURN_IF_ERROR(rt.cgroups.Destroy(record.cgroups_path));

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
