#include "agent/cri/streaming/remote_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "agent/exec_output.h"
#include "runtime/base/file_util.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::agent::cri::streaming {
namespace {

void SetSize(int fd, uint16_t width, uint16_t height) {
  struct winsize ws = {};
  ws.ws_col = width;
  ws.ws_row = height;
  ::ioctl(fd, TIOCSWINSZ, &ws);
}

absl::Status RunExec(ContainerManager& containers, const CommandRequest& request, CommandInput& input,
                     CommandOutput& output) {
  v1::ProcessSpec process;
  for (const auto& arg : request.cmd) process.add_args(arg);
  process.set_tty(request.tty);
  process.set_stdin(request.stdin);
  auto handle = containers.Exec(request.container_id, process);
  if (!handle.ok()) return handle.status();

  int out_fd = -1, err_fd = -1;
  auto& fds = handle->fds;
  if (handle->tty) {
    if (fds.empty()) return absl::InternalError("exec: the shim sent no terminal");
    out_fd = fds[0].get();
    input.Connect(UniqueFd(::fcntl(fds[0].get(), F_DUPFD_CLOEXEC, 0)), true);
  } else {
    size_t base = handle->stdin ? 1 : 0;
    if (fds.size() < base + 2) return absl::InternalError("exec: the shim sent too few fds");
    input.Connect(handle->stdin ? std::move(fds[0]) : UniqueFd(), false);
    out_fd = fds[base].get();
    err_fd = fds[base + 1].get();
  }

  std::optional<int> exit = PumpExecOutput(
      handle->connection.get(), out_fd, err_fd,
      [&](v1::Stream which, std::string_view data) {
        if (which == v1::STDOUT ? !request.stdout : !(request.stderr || request.tty)) return true;
        return output.Write(which == v1::STDOUT ? OutputChannel::kStdout : OutputChannel::kStderr, data);
      },
      [&] { return output.Gone(); });
  const int exit_code = exit.value_or(-1);
  if (exit_code < 0) {
    containers.WatchExecExit(std::move(*handle));  // its exit event still comes
    output.Finish(FailureStatus("the client went away before the command ended"));
    return absl::OkStatus();
  }
  containers.ExecExited(*handle, exit_code);
  output.Finish(ExitCodeStatus(exit_code));
  return absl::OkStatus();
}

absl::Status RunAttach(ContainerManager& containers, const CommandRequest& request, CommandInput& input,
                       CommandOutput& output) {
  auto handle = containers.Attach(request.container_id, request.stdin);
  if (!handle.ok()) return handle.status();
  input.Connect(std::move(handle->input), handle->tty);
  for (;;) {
    struct pollfd p = {handle->connection.get(), POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (n < 0 && errno != EINTR) break;
    if (output.Gone()) break;
    if (n <= 0) continue;
    auto msg = shim::ReceiveMessage(handle->connection.get());
    if (!msg.ok() || msg->type == shim::MsgType::kExit) break;
    if (msg->type != shim::MsgType::kStdout && msg->type != shim::MsgType::kStderr) continue;
    bool is_out = msg->type == shim::MsgType::kStdout;
    if (is_out ? !request.stdout : !request.stderr) continue;
    if (!output.Write(is_out ? OutputChannel::kStdout : OutputChannel::kStderr, msg->payload)) break;
  }
  output.Finish(SuccessStatus());
  return absl::OkStatus();
}

}  // namespace

void CommandInput::Stdin(std::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return;
  if (!connected_) {
    pending_.append(data);
    return;
  }
  // A process that closed its stdin drops what is left.
  if (fd_) WriteAll(fd_.get(), absl::string_view(data.data(), data.size()));
}

void CommandInput::StdinEnd() {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return;
  ended_ = true;
  if (connected_) FlushLocked();
}

void CommandInput::Resize(uint16_t width, uint16_t height) {
  std::lock_guard<std::mutex> lock(mu_);
  width_ = width;
  height_ = height;
  if (connected_ && tty_ && fd_) SetSize(fd_.get(), width, height);
}

void CommandInput::Connect(UniqueFd fd, bool tty) {
  std::lock_guard<std::mutex> lock(mu_);
  fd_ = std::move(fd);
  tty_ = tty;
  connected_ = true;
  if (tty_ && fd_ && width_ > 0 && height_ > 0) SetSize(fd_.get(), width_, height_);
  if (fd_ && !pending_.empty()) WriteAll(fd_.get(), pending_);
  pending_.clear();
  if (ended_) FlushLocked();
}

// Called once stdin ended and the process is connected.
void CommandInput::FlushLocked() {
  if (!fd_) return;
  if (tty_) {
    WriteAll(fd_.get(), "\x04");
  } else {
    fd_.Reset();
  }
}

std::string SuccessStatus() { return R"({"metadata":{},"status":"Success"})"; }

std::string ExitCodeStatus(int exit_code) {
  if (exit_code == 0) return SuccessStatus();
  nlohmann::json status = {
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", absl::StrCat("command terminated with non-zero exit code: exit status ", exit_code)},
      {"reason", "NonZeroExitCode"},
      {"details", {{"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}}}}}};
  return status.dump();
}

std::string FailureStatus(std::string_view message) {
  nlohmann::json status = {{"metadata", nlohmann::json::object()},
                           {"status", "Failure"},
                           {"message", std::string(message)},
                           {"reason", "InternalError"},
                           {"code", 500}};
  return status.dump();
}

absl::Status RunRemoteCommand(ContainerManager& containers, const CommandRequest& request, CommandInput& input,
                              CommandOutput& output) {
  absl::Status st = request.attach ? RunAttach(containers, request, input, output)
                                   : RunExec(containers, request, input, output);
  if (!st.ok()) output.Finish(FailureStatus(std::string(st.message())));
  return st;
}

}  // namespace berth::agent::cri::streaming
