// Sending one fd over a connected Unix socket (SCM_RIGHTS), with a short text payload.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth {

// `payload` must not be empty (a stream socket cannot carry the fd alone). Async-signal-safe
// apart from the error's text: usable in a freshly cloned child.
absl::Status SendFd(int socket_fd, int fd, absl::string_view payload);

}  // namespace berth
