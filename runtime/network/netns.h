// Network namespaces as fds: opening one, making a fresh one, and running a piece of code
// inside one. gRPC worker threads must never setns (CONVENTIONS.md), so code that has to be
// "in" another netns runs on a short-lived thread of its own: a netlink socket or a
// /proc/sys/net file opened there stays bound to that netns after the thread is gone.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::net {

// /proc/<pid>/ns/net, O_RDONLY|O_CLOEXEC. NOT_FOUND when the process is gone.
absl::StatusOr<UniqueFd> OpenNetnsOfPid(int pid);
// The calling thread's current netns.
absl::StatusOr<UniqueFd> OpenCurrentNetns();
// A new, empty network namespace (only "lo", down), held by the returned fd alone: it
// disappears when the fd and every process in it are gone. No thread of the caller changes
// namespace (a helper thread unshares and exits).
absl::StatusOr<UniqueFd> CreateNetns();

// Runs `fn` on a new thread that has entered `netns_fd`, and waits for it. Returns the
// setns error, or fn's status.
absl::Status RunInNetns(int netns_fd, const std::function<absl::Status()>& fn);

}  // namespace berth::net
