// Device nodes in a container: a fresh /dev gets the standard character devices, the
// /dev/fd, std{in,out,err} and ptmx links, and the console when the process has a terminal;
// linux.devices adds more. /dev is normally mounted nodev (like the root), so a node made
// there would be inert: nodes are binds of the node's own device files, whose mount allows
// devices, and read-only, so that a container root cannot chmod or chown the node's own file
// through them (the device itself stays writable). Only where devices are allowed (no nodev,
// no user namespace, e.g. --privileged) are they made with mknod. The device cgroup decides
// what may be opened either way.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "runtime/spec/spec.h"

namespace berth::container_internal {

// `root_fd`: the rootfs (O_PATH), /dev already mounted in it. `terminal_fd` >= 0 is bound
// onto /dev/console.
absl::Status PopulateDev(int root_fd, int terminal_fd, bool user_namespace);

// linux.devices: each made at its path inside the root (an existing node with the same
// number is kept).
absl::Status MakeDevices(int root_fd, const std::vector<spec::Device>& devices, bool user_namespace);

}  // namespace berth::container_internal
