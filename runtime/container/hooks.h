// OCI lifecycle hooks: each runs as its own process with the container's state (JSON) on
// stdin, the runtime's stdout and stderr, and is killed when its timeout passes. The runtime
// runs most of them (runtime/lifecycle); a container's init runs its startContainer hooks.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/spec/spec.h"

namespace berth {

struct HookRun {
  std::string field;       // "hooks.createRuntime", for messages
  std::string state_json;  // written to each hook's stdin
  // createContainer hooks run in the container's mount namespace: init's pid (+ start time).
  pid_t mount_namespace_of = 0;
  uint64_t mount_namespace_start_time = 0;
};

// Runs `hooks` in order; the first that fails (exit status, signal, timeout, cannot start)
// stops the rest and is returned, naming it ("hooks.poststart[1] /bin/x: exit status 3").
absl::Status RunHooks(const std::vector<spec::Hook>& hooks, const HookRun& run);

}  // namespace berth
