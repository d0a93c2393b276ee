// Process identity: a pid alone can be reused, so Berth names a process by pid + start time
// (field 22 of /proc/<pid>/stat, in clock ticks since boot).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace berth {

absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid);

// True when `pid` runs and started at `start_time` (not a reused pid). Zombies count as gone.
bool ProcessAlive(pid_t pid, uint64_t start_time);

}  // namespace berth
