// Update: new limits for a container that exists, written to its cgroup and kept in its
// record (so a later update starts from them).
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/container.h"
#include "runtime/lifecycle/lifecycle.h"
#include "runtime/lifecycle/live_container.h"

namespace berth::lifecycle {

namespace {

template <typename T>
void Take(std::optional<T>& into, const std::optional<T>& from) {
  if (from.has_value()) into = from;
}

void Merge(spec::LinuxResources& into, const spec::LinuxResources& from) {
  Take(into.memory_limit, from.memory_limit);
  Take(into.memory_reservation, from.memory_reservation);
  Take(into.memory_swap, from.memory_swap);
  Take(into.memory_kernel, from.memory_kernel);
  Take(into.memory_kernel_tcp, from.memory_kernel_tcp);
  Take(into.memory_swappiness, from.memory_swappiness);
  Take(into.memory_disable_oom_killer, from.memory_disable_oom_killer);
  Take(into.cpu_quota, from.cpu_quota);
  Take(into.cpu_period, from.cpu_period);
  Take(into.cpu_shares, from.cpu_shares);
  Take(into.cpu_realtime_runtime, from.cpu_realtime_runtime);
  Take(into.cpu_realtime_period, from.cpu_realtime_period);
  if (!from.cpu_cpus.empty()) into.cpu_cpus = from.cpu_cpus;
  if (!from.cpu_mems.empty()) into.cpu_mems = from.cpu_mems;
  Take(into.pids_limit, from.pids_limit);
}

}  // namespace

absl::Status UpdateContainerResources(CgroupDriver& cgroups, const LiveContainer& container,
                                      const spec::LinuxResources& resources) {
  CgroupResources limits = CgroupResourcesFor(resources);
  // Rewriting the device rules would deny every device for a moment (deny all, then allow).
  limits.devices.reset();
  return cgroups.Apply(container.cgroups_path, limits, CgroupOrigin::kFound);
}

absl::Status Update(const Runtime& rt, const std::string& id, const spec::LinuxResources& changes) {
  if (!changes.devices.empty()) {
    return absl::InvalidArgumentError(
        "linux.resources.devices: the device cgroup cannot be changed by an update (recreate the container)");
  }
  ASSIGN_OR_RETURN(StateLock lock, rt.store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  if (CurrentStatus(record) == ContainerStatus::kStopped) {
    return absl::FailedPreconditionError(absl::StrCat("cannot update container ", Quoted(id), ": it is stopped"));
  }
  ASSIGN_OR_RETURN(std::string config, ReadFile(rt.store.ConfigPath(id)));
  ASSIGN_OR_RETURN(spec::Spec spec, spec::ParseSpec(config));
  Merge(spec.linux.resources, changes);
  RETURN_IF_ERROR(spec::ValidateSpec(spec));
  RETURN_IF_ERROR(UpdateContainerResources(rt.cgroups, LiveOf(record), spec.linux.resources));
  return WriteFileAtomic(rt.store.ConfigPath(id), spec::SerializeSpec(spec), 0600, Durability::kProcessCrashSafe);
}

}  // namespace berth::lifecycle
