// Pause and Resume: the container's cgroup frozen and thawed.
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/lifecycle.h"
#include "runtime/lifecycle/live_container.h"

namespace berth::lifecycle {

absl::Status FreezeContainer(CgroupDriver& cgroups, const LiveContainer& container) {
  return cgroups.Freeze(container.cgroups_path);
}

absl::Status ThawContainer(CgroupDriver& cgroups, const LiveContainer& container) {
  return cgroups.Thaw(container.cgroups_path);
}

namespace {

absl::Status SetPaused(const Runtime& rt, const std::string& id, bool pause) {
  ASSIGN_OR_RETURN(StateLock lock, rt.store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  ContainerStatus status = CurrentStatus(record);
  ContainerStatus needed = pause ? ContainerStatus::kRunning : ContainerStatus::kPaused;
  if (status != needed) {
    return absl::FailedPreconditionError(absl::StrCat("cannot ", pause ? "pause" : "resume",
                                                      " container ", Quoted(id), ": it is ",
                                                      StatusName(status), ", not ", StatusName(needed)));
  }
  RETURN_IF_ERROR(pause ? FreezeContainer(rt.cgroups, LiveOf(record)) : ThawContainer(rt.cgroups, LiveOf(record)));
  record.paused = pause;
  return rt.store.Save(record);
}

}  // namespace

absl::Status Pause(const Runtime& rt, const std::string& id) { return SetPaused(rt, id, true); }
absl::Status Resume(const Runtime& rt, const std::string& id) { return SetPaused(rt, id, false); }

}  // namespace berth::lifecycle
