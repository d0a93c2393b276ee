// runc's console socket: whoever listens on it (conmon, containerd's shim, a test) receives
// the container's pty master, opened by init inside the container's /dev/pts, as one
// SCM_RIGHTS message whose payload is the terminal's name (see CreateOptions).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::lifecycle {

// A connected stream socket to `socket_path`.
absl::StatusOr<UniqueFd> ConnectConsoleSocket(const std::string& socket_path);

}  // namespace berth::lifecycle
