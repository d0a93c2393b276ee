// A process that moves itself into its cgroup, through control files opened beforehand.
//
// A thread moving itself is the one move the kernel makes without its global threadgroup
// lock, whose taking waits for an RCU grace period (CgroupDriver::SelfJoinFiles). So a
// container's init and an exec's joiner move themselves: the parent opens the files before
// the clone (the paths and their errors stay on its side) and the child writes "0" to each.
// The kernel checks the credentials a file was opened with, so a child already in a new user
// namespace moves itself the same way.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"

namespace berth {

class CgroupSelfJoin {
 public:
  // Opens the cgroup's SelfJoinFiles for writing, close-on-exec. An empty path (no cgroup)
  // opens nothing, and Join is then a no-op.
  static absl::StatusOr<CgroupSelfJoin> Open(CgroupDriver& cgroups, const std::string& path);

  // Moves the calling thread, which is all of a single-threaded process, into the cgroup in
  // every hierarchy. Changes nothing in this object: a child that shares its parent's
  // memory (CLONE_VM) may call it.
  absl::Status Join() const;

  // Closes the files (in this process; a child closes its copies itself, or at its exec).
  void Close() { fds_.clear(); }

 private:
  std::vector<std::string> files_;
  std::vector<UniqueFd> fds_;
};

}  // namespace berth
