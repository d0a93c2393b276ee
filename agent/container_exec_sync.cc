// ContainerManager::ExecToCompletion: a command run in a container to its end with its output
// collected (health probes, the CRI's ExecSync), killed when it outlives its deadline.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "agent/container_manager.h"
#include "agent/shim_client.h"
#include "runtime/shim/shim_messages.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::agent {

namespace {
constexpr int kPollSliceMs = 100;  // how often `stopping` is asked
}  // namespace

absl::StatusOr<ExecOutcome> ContainerManager::ExecToCompletion(const std::string& ref, const v1::ProcessSpec& process,
                                                               absl::Time deadline, size_t max_output,
                                                               const std::function<bool()>& stopping, bool announce) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  const std::string state_dir = (*entry)->paths.dir;
  v1::ProcessSpec plain = process;
  plain.set_tty(false);
  plain.set_stdin(false);
  absl::StatusOr<ExecHandle> exec = Exec(ref, plain, announce);
  if (!exec.ok()) return exec.status();
  // fds: [stdout, stderr] (no stdin, no terminal). Read both until EOF and the exit arrives.
  std::vector<pollfd> fds;
  for (UniqueFd& fd : exec->fds) fds.push_back({fd.get(), POLLIN, 0});
  fds.push_back({exec->connection.get(), POLLIN, 0});
  ExecOutcome outcome;
  std::string* sinks[2] = {&outcome.out, &outcome.err};
  char buf[4096];
  for (;;) {
    bool open = false;
    for (const pollfd& p : fds) open = open || p.fd >= 0;
    if (!open) break;
    const absl::Time now = absl::Now();
    if ((stopping && stopping()) || now >= deadline) {
      outcome.timed_out = true;
      break;
    }
    const int wait_ms =
        static_cast<int>(std::min<int64_t>(kPollSliceMs, absl::ToInt64Milliseconds(deadline - now) + 1));
    if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      pollfd& p = fds[i];
      if (p.fd < 0 || p.revents == 0) continue;
      if (i + 1 == fds.size()) {
        absl::StatusOr<shim::Message> msg = shim::ReceiveMessage(p.fd);
        if (msg.ok() && msg->type == shim::MsgType::kExit) {
          if (auto report = shim::Decode<shim::ExitReport>(msg->payload); report.ok()) {
            outcome.exit_code = report->exit_code;
          }
        }
        p.fd = -1;  // one message, then the shim closes it
        continue;
      }
      const ssize_t n = ::read(p.fd, buf, sizeof(buf));
      if (n > 0) {
        std::string& sink = *sinks[std::min<size_t>(i, 1)];
        if (sink.size() < max_output) {
          sink.append(buf, std::min<size_t>(static_cast<size_t>(n), max_output - sink.size()));
        }
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        p.fd = -1;
      }
    }
  }
  if (outcome.timed_out || !outcome.exit_code) {
    // Ended, so that a hung command does not pile up in the container.
    if (absl::Status st = ShimRequest(state_dir, shim::MsgType::kKill,
                                      shim::Encode(shim::KillRequest{SIGKILL, false, exec->pid}))
                              .status();
        !st.ok() && !absl::IsNotFound(st)) {
      spdlog::debug("exec kill id={} error=\"{}\"", ref, std::string(st.message()));
    }
    outcome.exit_code.reset();
  }
  if (announce && outcome.exit_code) ExecExited(*exec, *outcome.exit_code);
  return outcome;
}

}  // namespace berth::agent
