// A pty opened inside a container's own devpts instance, so that the names the container
// sees (/dev/pts/N, `tty`) are its own, and the master handed out over a console socket.
#pragma once

#include "absl/status/status.h"
#include "runtime/base/unique_fd.h"

namespace berth::container_internal {

struct ContainerPty {
  UniqueFd master;
  UniqueFd slave;
};

// Opens <root>/dev/pts/ptmx (resolved inside `root_fd`), unlocks it and takes the slave with
// TIOCGPTPEER: no path of the slave is looked up, so none can be redirected.
absl::Status OpenContainerPty(int root_fd, ContainerPty& pty);

// Sends the master over `socket_fd` (payload "/dev/pts/N") and closes our copy of it.
absl::Status SendPtyMaster(int socket_fd, ContainerPty& pty);

}  // namespace berth::container_internal
