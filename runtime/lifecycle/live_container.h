// What the lifecycle verbs do to a container once its caller has checked that the verb
// applies. Two callers keep the facts a verb checks: berth-runtime in its state store
// (lifecycle.h) and berth-shim in memory (it is init's parent); both act through these, and
// nothing above runtime/ signals a container's pid or writes its cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/spec/spec.h"

namespace berth::lifecycle {

// A container found again by its init (the pid and its start time, so that a later process
// with the same pid is never signalled) and its cgroup.
struct LiveContainer {
  pid_t pid = 0;
  uint64_t pid_start_time = 0;  // 0 = unknown: the pid alone
  std::string cgroups_path;
};

// Signals init, or with `all` every process in the container's cgroup. An init that is
// already gone is not an error (its exit is on its way to whoever reaps it).
absl::Status SignalContainer(CgroupDriver& cgroups, const LiveContainer& container, int signal, bool all);

// Freezes or thaws the container's cgroup; Freeze returns once every process is frozen.
absl::Status FreezeContainer(CgroupDriver& cgroups, const LiveContainer& container);
absl::Status ThawContainer(CgroupDriver& cgroups, const LiveContainer& container);

// The pids in the container's cgroup, in the caller's pid namespace (none once it is gone).
absl::StatusOr<std::vector<pid_t>> ContainerProcesses(CgroupDriver& cgroups, const LiveContainer& container);

// Writes new limits to the container's cgroup; the device rules are left as they are (they
// cannot change while it runs).
absl::Status UpdateContainerResources(CgroupDriver& cgroups, const LiveContainer& container,
                                      const spec::LinuxResources& resources);

// SIGKILLs init, then thaws and kills whatever else is in the cgroup and removes it. Done
// once per container, by whoever saw it end (the shim, or the state store's delete).
absl::Status DestroyContainer(CgroupDriver& cgroups, const LiveContainer& container);

// Removes the cgroups directly under `parent` whose names `keep` refuses: containers whose
// records are gone (a crash between making the cgroup and recording the container).
void RemoveUnknownCgroups(CgroupDriver& cgroups, const std::string& parent,
                          const std::function<bool(const std::string& name)>& keep);

}  // namespace berth::lifecycle
