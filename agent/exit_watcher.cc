#include "agent/exit_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>

#include "runtime/shim/shim_protocol.h"

namespace berth::agent {

ExitWatcher::ExitWatcher(OnExit on_exit)
    : on_exit_(std::move(on_exit)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  thread_ = std::thread([this] { Run(); });
}

ExitWatcher::~ExitWatcher() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  thread_.join();
}

void ExitWatcher::Watch(const std::string& id, UniqueFd connection, OnExit on_exit) {
  int fd = connection.get();
  std::lock_guard<std::mutex> lock(mu_);
  watched_[fd] = Watched{id, std::move(connection), std::move(on_exit)};
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
}

void ExitWatcher::Run() {
  struct epoll_event events[32];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_.get()) return;
      std::string id;
      UniqueFd conn;
      OnExit on_exit;
      std::optional<shim::ExitReport> report;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = watched_.find(fd);
        if (it == watched_.end()) continue;
        // Any packet (kExit) or a closed socket means the container is done either way.
        absl::StatusOr<shim::Message> msg = shim::ReceiveMessage(fd);
        if (msg.ok() && msg->type == shim::MsgType::kExit) {
          absl::StatusOr<shim::ExitReport> decoded = shim::Decode<shim::ExitReport>(msg->payload);
          if (decoded.ok()) report = std::move(*decoded);
        }
        id = it->second.id;
        conn = std::move(it->second.connection);
        on_exit = std::move(it->second.on_exit);
        watched_.erase(it);
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      }
      (on_exit ? on_exit : on_exit_)(id, report);
    }
  }
}

}  // namespace berth::agent
