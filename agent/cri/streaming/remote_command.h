// Kubernetes' remote command (exec and attach) independent of the wire: the protocol layer
// (SPDY or WebSocket) feeds the client's stdin and resizes into a CommandInput and gives a
// CommandOutput for stdout, stderr and the final status; RunRemoteCommand does the rest
// with the container manager.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "agent/container_manager.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent::cri::streaming {

// What a URL's token stands for: an exec of `cmd`, or (attach) the container's own process.
struct CommandRequest {
  std::string container_id;
  std::vector<std::string> cmd;  // exec only
  bool attach = false;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

enum class OutputChannel { kStdout = 1, kStderr = 2 };

class CommandOutput {
 public:
  virtual ~CommandOutput() = default;
  // False once the client is gone.
  virtual bool Write(OutputChannel channel, std::string_view data) = 0;
  // The client went away (the connection ended): the command's output has no reader.
  virtual bool Gone() = 0;
  // The command ended: `status` (a metav1.Status JSON) goes on the error channel and every
  // channel is closed.
  virtual void Finish(const std::string& status) = 0;
};

// The client's input, which may arrive before the process exists (the client starts sending
// once its streams are accepted): bytes are held until Connect. Thread-safe.
class CommandInput {
 public:
  void Stdin(std::string_view data);
  // The client closed stdin: the pipe closes; on a terminal, ^D is typed instead, since the
  // terminal must stay open for output.
  void StdinEnd();
  void Resize(uint16_t width, uint16_t height);
  // The process's stdin (a pipe writer or the terminal's master; may be empty).
  void Connect(UniqueFd fd, bool tty);

 private:
  void FlushLocked();

  std::mutex mu_;
  UniqueFd fd_;
  bool connected_ = false;
  bool tty_ = false;
  std::string pending_;
  bool ended_ = false;
  uint16_t width_ = 0, height_ = 0;  // the last size asked for, applied on Connect
};

// metav1.Status JSON as remote-command clients read it from the error channel.
std::string SuccessStatus();
std::string ExitCodeStatus(int exit_code);  // Success for 0
std::string FailureStatus(std::string_view message);

// Runs the request to its end. Errors before the process started are returned (and also
// reported through output.Finish, so the client sees them); afterwards the outcome is
// reported only through output.Finish.
absl::Status RunRemoteCommand(ContainerManager& containers, const CommandRequest& request, CommandInput& input,
                              CommandOutput& output);

}  // namespace berth::agent::cri::streaming
