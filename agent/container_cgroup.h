// Where a container's cgroup lives: <agent's cgroup parent>/[<its own cgroup_parent>/]<id>.
// A container's cgroup_parent (docker's --cgroup-parent, the kubelet's pod cgroup) is always
// taken below the agent's parent, never from a hierarchy's root; the directories between are
// made on demand and removed, when empty, with the container.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/cgroup/cgroup_driver.h"

namespace berth::agent {

// `requested` as a relative cgroup path ("/kubepods/pod1/" -> "kubepods/pod1"); empty stays
// empty. INVALID_ARGUMENT for "..", ".", empty components, characters outside
// [A-Za-z0-9_.:@-], or a component that is a container id.
absl::StatusOr<std::string> CleanCgroupParent(const std::string& requested);

// The container's cgroup path (an OCI cgroupsPath) given an already clean `own_parent`.
std::string ContainerCgroupPath(const std::string& agent_parent, const std::string& own_parent,
                                const std::string& id);

// Removes `cgroup` and then each parent up to (not including) `agent_parent`, stopping at the
// first that is not empty: another container's, or a process still in it.
void RemoveEmptyCgroups(CgroupDriver& cgroups, const std::string& agent_parent, const std::string& cgroup);

}  // namespace berth::agent
