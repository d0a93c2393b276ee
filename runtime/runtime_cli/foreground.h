// Waiting in the foreground for a child (a container's init, an exec helper) while passing
// the usual signals on to it, as `runc run` and `runc exec` do.
#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace berth::runtime_cli {

// Blocks the forwarded signals (before the child exists, so that none is lost; the child
// unblocks its own mask) and restores nothing: the process waits, then exits.
class SignalForwarding {
 public:
  SignalForwarding();
  // Until `child` exits: each forwarded signal is sent to it. Returns its exit code
  // (128+N for a signal N).
  absl::StatusOr<int> Wait(pid_t child);
};

}  // namespace berth::runtime_cli
