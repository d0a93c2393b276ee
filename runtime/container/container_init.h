// The child side of CreateContainer: everything a container's init does between clone()
// and exec (protocol steps 2-5 in container.h). Never returns, never logs: a failure goes
// to the parent as one kError message and the child _exit()s.
#pragma once

#include "runtime/cgroup/cgroup_self_join.h"
#include "runtime/container/container.h"
#include "runtime/container/namespaces.h"
#include "runtime/container/prepared_mounts.h"
#include "runtime/container/sync_channel.h"
#include "runtime/spec/spec.h"

namespace berth::seccomp {
struct Program;
}

namespace berth::container_internal {

struct InitArgs {
  const spec::Spec* spec = nullptr;
  const ContainerStdio* stdio = nullptr;
  NamespacePlan* plan = nullptr;
  PreparedMounts* mounts = nullptr;
  const seccomp::Program* seccomp = nullptr;  // loaded last, right before execve
  SyncChannel* channel = nullptr;         // the child's end
  SyncChannel* parent_channel = nullptr;  // the parent's end, closed at once
  int devnull_fd = -1;                    // the host's /dev/null, for stdio fds of -1
  const CreateOptions* options = nullptr;  // the start FIFO, preserved fds
  CgroupSelfJoin* cgroup_join = nullptr;   // init's cgroup, opened by the parent
};

[[noreturn]] void RunContainerInit(const InitArgs& args);

}  // namespace berth::container_internal
