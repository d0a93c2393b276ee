// Passing one fd over a connected Unix socket (SCM_RIGHTS), with a short text payload.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/base/unique_fd.h"

namespace berth {

// `payload` must not be empty (a stream socket cannot carry the fd alone). Async-signal-safe
// apart from the error's text: usable in a freshly cloned child.
absl::Status SendFd(int socket_fd, int fd, absl::string_view payload);

// Takes one fd that SendFd sent (O_CLOEXEC), without waiting: an fd that is not there yet is
// UNAVAILABLE. Only for a peer that sent before the caller could know it (a process that has
// already reported that it runs).
absl::StatusOr<UniqueFd> TakeSentFd(int socket_fd);

}  // namespace berth
