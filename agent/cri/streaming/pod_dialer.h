// A TCP connection made inside a pod's network namespace (runtime/network/netns.h's
// RunInNetns: the socket stays bound to the namespace it was made in).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent::cri::streaming {

// Connects to `port` on the loopback of the network namespace of process `pid` (127.0.0.1,
// then ::1).
absl::StatusOr<UniqueFd> DialLoopbackOf(int pid, uint16_t port);

}  // namespace berth::agent::cri::streaming
