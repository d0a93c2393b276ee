// An attached session with a container (run without -d, attach): see attach_session.cc.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "cli/agent_client.h"

namespace berth::cli {

struct AttachSessionOptions {
  bool stdin = false;        // copy our stdin to the container (it must have been created with -i)
  bool tty = false;          // the container has a pty: raw mode, resizes, detach keys
  bool auto_remove = false;  // run --rm: remove it after its exit
  std::string detach_keys;   // raw bytes (ParseDetachKeys); empty: none
  bool show_stdout = true;   // run -a: only the streams asked for are shown
  bool show_stderr = true;
};

// The CLI's exit code: the container's, 0 after a detach, 125 (126/127 for a process that
// could not start) on errors, which it reports.
int AttachSession(AgentClient& client, const std::string& id, const AttachSessionOptions& options);

// Called when Run failed before its container was made; true: the cause is fixed (the image
// pulled) and Run is tried once more. It may replace `status` with why it could not be fixed.
using RunRecovery = std::function<bool(grpc::Status& status)>;

// run without -d: creates, attaches to and starts the container in one call, then as
// AttachSession; with auto_remove it returns once the container is gone.
int RunSession(AgentClient& client, const berth::v1::ContainerConfig& config, const AttachSessionOptions& options,
               const RunRecovery& recover);

// run -a: `streams` (stdin, stdout, stderr, any case) are the ones attached; the rest are not.
absl::Status ApplyAttachStreams(const std::vector<std::string>& streams, AttachSessionOptions& options);

// Best effort: a container that could not start under --rm should not linger.
void RemoveQuietly(AgentClient& client, const std::string& id);
// Starts the container; `process_failed` tells a command that could not be started.
grpc::Status StartContainer(AgentClient& client, const std::string& id, bool& process_failed);

}  // namespace berth::cli
