// Process identity: a pid alone can be reused, so Berth names a process by pid + start time
// (field 22 of /proc/<pid>/stat, in clock ticks since boot).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth {

// The fields of /proc/<pid>/stat after the ")" that ends the command name (which may itself
// hold spaces and parens): index 0 is field 3 (state). NOT_FOUND once the process is gone.
absl::StatusOr<std::vector<std::string>> StatFieldsAfterComm(pid_t pid);

absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid);

// This boot of the kernel's random id (/proc/sys/kernel/random/boot_id, without its newline):
// what was written in this boot can be told from what outlived an earlier one.
absl::StatusOr<std::string> BootId();

// True when `pid` runs and started at `start_time` (not a reused pid). Zombies count as gone.
bool ProcessAlive(pid_t pid, uint64_t start_time);

// Sends `signal` to the process `pid` + `start_time` and to no other: through a pidfd taken
// before the start time is checked, so a pid reused in between is never signalled. A process
// that is already gone is not an error. `start_time` 0 skips the check (a child not yet reaped).
absl::Status SignalProcess(pid_t pid, uint64_t start_time, int signal);

// Opens /proc/<pid>/ns/<name> of that process only: if it exited at any point during the open
// (its pid could then name another process), FAILED_PRECONDITION.
absl::StatusOr<UniqueFd> OpenNamespaceOf(pid_t pid, uint64_t start_time, const char* name);

}  // namespace berth
