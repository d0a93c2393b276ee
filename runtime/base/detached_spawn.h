// Starting a program that is not the caller's child: it is reparented at once (to the nearest
// child subreaper above the caller, or to init), as a daemon that forked itself away would be,
// but without that fork. berth-shim is started this way, so that the agent is never a
// container's (grand)parent and the shim need not copy itself once more after its exec.
#pragma once

#include <spawn.h>
#include <sys/types.h>

#include "absl/status/statusor.h"

namespace berth {

// posix_spawn(path, actions, attr, argv, envp) from a short-lived helper that shares the
// caller's memory (clone with CLONE_VM | CLONE_VFORK: nothing is copied) and exits once the
// program has been exec'd; the helper is reaped here. Returns the program's pid, which the
// caller cannot wait for: its exit goes to its new parent. Safe in a multithreaded caller:
// the helper runs only posix_spawn, with every signal blocked, while the calling thread waits.
absl::StatusOr<pid_t> SpawnDetached(const char* path, const posix_spawn_file_actions_t* actions,
                                    const posix_spawnattr_t* attr, char* const argv[], char* const envp[]);

}  // namespace berth
