#include "cli/stdin_pump.h"

#include <cerrno>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "absl/status/status.h"

namespace berth::cli {

absl::StatusOr<std::unique_ptr<StdinPump>> StdinPump::Start(InputSink& sink, std::string detach_keys,
                                                            std::function<void()> on_detach) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "stdin pump: pipe2");
  }
  std::unique_ptr<StdinPump> pump(new StdinPump(sink, fds[0], fds[1]));
  if (!detach_keys.empty()) {
    pump->detach_.emplace(std::move(detach_keys));
    pump->on_detach_ = std::move(on_detach);
  }
  pump->thread_ = std::thread([p = pump.get()] { p->Run(); });
  return pump;
}

StdinPump::~StdinPump() {
  Stop();
  close(wake_read_);
  close(wake_write_);
}

void StdinPump::Stop() {
  if (!thread_.joinable()) return;
  const char byte = 0;
  while (write(wake_write_, &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
}

void StdinPump::Run() {
  std::string buffer(32 * 1024, '\0');
  for (;;) {
    struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    const int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) return;  // stopped: the session is over
    if (fds[0].revents & POLLNVAL) break;                  // no stdin at all: like EOF
    if (fds[0].revents == 0) continue;
    const ssize_t got = read(STDIN_FILENO, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;  // unreadable stdin ends the input, not the session
    }
    if (got == 0) break;  // EOF
    std::string input = buffer.substr(0, static_cast<size_t>(got));
    if (detach_) {
      DetachKeys::Result r = detach_->Feed(input);
      if (!r.forward.empty() && !sink_.SendStdin(r.forward)) return;
      if (r.detached) {
        if (on_detach_) on_detach_();
        return;  // the container keeps its stdin open
      }
      continue;
    }
    if (!sink_.SendStdin(input)) return;
  }
  sink_.CloseStdin();
}

}  // namespace berth::cli
