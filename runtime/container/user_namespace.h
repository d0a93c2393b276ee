// A container's user namespace, seen from its parent: the uid/gid maps written into
// /proc/<pid>/ (by the parent, which holds the rights in the namespace above, so setgroups(2)
// stays usable inside), the namespace opened as an fd for idmapped mounts, and lookups of
// which node id a container id is.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/spec/spec.h"

namespace berth::container_internal {

absl::Status WriteIdMappings(pid_t pid, const std::vector<spec::IdMapping>& uids,
                             const std::vector<spec::IdMapping>& gids);

absl::StatusOr<UniqueFd> OpenUserNamespace(pid_t pid);

// The node id that `container_id` maps to, if the mappings cover it.
std::optional<uint32_t> HostIdOf(uint32_t container_id, const std::vector<spec::IdMapping>& mappings);

}  // namespace berth::container_internal
