#include "agent/exec_output.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "absl/time/clock.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::agent {

namespace {
constexpr int64_t kDrainAfterExitNs = 500'000'000;
}

std::optional<int> PumpExecOutput(int connection, int out_fd, int err_fd,
                                  const std::function<bool(v1::Stream, std::string_view)>& sink,
                                  const std::function<bool()>& stop) {
  std::optional<int> exit_code;
  bool out_open = out_fd >= 0, err_open = err_fd >= 0, wanted = true;
  int64_t exit_seen_ns = 0;
  char buf[32768];
  while (out_open || err_open || !exit_code) {
    struct pollfd p[3] = {{out_open ? out_fd : -1, POLLIN, 0},
                          {err_open ? err_fd : -1, POLLIN, 0},
                          {exit_code ? -1 : connection, POLLIN, 0}};
    int n = ::poll(p, 3, 200);
    if (n < 0 && errno != EINTR) break;
    if (stop()) return std::nullopt;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(p[i].fd, buf, sizeof(buf));
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {  // EOF, or EIO from a terminal whose last slave closed
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      // Read even when unwanted: a full pipe would stall the process.
      if (wanted) wanted = sink(i == 0 ? v1::STDOUT : v1::STDERR, std::string_view(buf, static_cast<size_t>(r)));
    }
    if (p[2].fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      auto msg = shim::ReceiveMessage(connection);
      exit_code = 255;
      if (msg.ok() && msg->type == shim::MsgType::kExit) {
        auto report = shim::Decode<shim::ExitReport>(msg->payload);
        if (report.ok()) exit_code = report->exit_code;
      }
      exit_seen_ns = absl::GetCurrentTimeNanos();
    }
    if (exit_code && absl::GetCurrentTimeNanos() - exit_seen_ns > kDrainAfterExitNs) break;
  }
  return exit_code;
}

}  // namespace berth::agent
