// Where a container's init first attaches a bind the parent prepared, to copy it (see
// AttachBind in rootfs.cc): the kernel lists mounts in the order they were made, so the copy,
// made in spec order, takes the original's place. An original attached on its target must be
// unmounted after, and every unmount waits for an RCU grace period that all of the node's
// unmounts queue for. One attached at its parking spot, in the old root, leaves with the old
// root in the one detach pivot_root needs anyway.
#pragma once

#include <vector>

#include "runtime/base/unique_fd.h"
#include "runtime/container/prepared_mounts.h"
#include "runtime/spec/spec.h"

namespace berth::container_internal {

// Per spec.mounts index, the parking spot of a prepared bind that is not a directory: its own
// source, opened now, in the old root, before the container's root is attached there. Invalid
// where there is none: a directory bind, a source the container's root cannot reach, a source
// on a shared mount (a mount attached there would propagate to the node), or everywhere when
// `none` (a root that is not pivoted to keeps the old root). `old_root_unshared`: every mount
// of the old root was just made private or slave, so none is looked up.
std::vector<UniqueFd> OpenParkingSpots(const spec::Spec& spec, const PreparedMounts& mounts,
                                       bool none, bool old_root_unshared);

// Whether mountinfo (as /proc/self/mountinfo) shows mount `mount_id` as shared, or does not
// show it at all.
bool MaybeShared(unsigned mount_id, absl::string_view mountinfo);

}  // namespace berth::container_internal
