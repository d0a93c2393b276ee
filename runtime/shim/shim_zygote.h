// The zygote: one berth-shim the agent starts once, which forks the standby shims it asks for
// (shim_protocol.h, "Zygote"). A standby forked from it has run the shim's start-up already:
// no exec, no loading of the binary, no libc and C++ start-up, no first faults of the code
// that ran so far, each paid by every container when every standby was executed.
#pragma once

#include "absl/status/statusor.h"

namespace berth::shim {

// Serves kFork requests on socket_fd until the agent closes it. Returns true in each forked
// child, a standby-to-be: its own socket is at kShimReportFd, SIGCHLD has its default action,
// and it is still in the zygote's session. Returns false in the zygote once the agent has
// closed its socket; an error for a request that is not a kFork with one fd.
absl::StatusOr<bool> ServeForks(int socket_fd);

}  // namespace berth::shim
