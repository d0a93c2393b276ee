// /dev of a container whose spec mounts a fresh tmpfs on /dev: the standard character
// devices (mknod, or a bind of the host's node where mknod is refused), the /dev/fd,
// std{in,out,err} and ptmx links, and the console when the process has a terminal.
#pragma once

#include "absl/status/status.h"

namespace berth::container_internal {

// `root_fd`: the rootfs (O_PATH), /dev already mounted in it. `terminal_fd` >= 0 is bound
// onto /dev/console.
absl::Status PopulateDev(int root_fd, int terminal_fd);

}  // namespace berth::container_internal
