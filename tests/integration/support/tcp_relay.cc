#include "tests/integration/support/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/errno_status.h"
#include "runtime/network/netns.h"

namespace berth::testing {

absl::StatusOr<std::unique_ptr<TcpRelay>> TcpRelay::Start(int netns_fd, int port, const std::string& socket_path) {
  std::unique_ptr<TcpRelay> r(new TcpRelay());
  r->netns_fd_ = netns_fd;
  r->port_ = port;
  r->path_ = socket_path;
  r->listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!r->listen_fd_) return ErrnoToStatus("socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  ::unlink(socket_path.c_str());
  if (::bind(r->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(r->listen_fd_.get(), 64) != 0) {
    return ErrnoToStatus("bind relay " + socket_path);
  }
  r->wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC));
  r->accept_thread_ = std::thread([p = r.get()] { p->AcceptLoop(); });
  return r;
}

TcpRelay::~TcpRelay() {
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  if (accept_thread_.joinable()) accept_thread_.join();
  for (auto& t : pumps_) t.join();
  ::unlink(path_.c_str());
}

void TcpRelay::AcceptLoop() {
  for (;;) {
    struct pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents & POLLIN) return;
    if (!(p[0].revents & POLLIN)) continue;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    // A TCP socket made inside the test host is bound to its namespace for good.
    UniqueFd server;
    (void)net::RunInNetns(netns_fd_, [&] {
      server.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      return absl::OkStatus();
    });
    struct sockaddr_in to = {};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port_));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!server || ::connect(server.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) continue;
    pumps_.emplace_back([this, c = std::move(client), s = std::move(server)]() mutable {
      Pump(std::move(c), std::move(s));
    });
  }
}

void TcpRelay::Pump(UniqueFd client, UniqueFd server) {
  char buf[65536];
  bool client_open = true, server_open = true;
  while (client_open && server_open) {
    struct pollfd p[3] = {{client.get(), POLLIN, 0}, {server.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[2].revents & POLLIN) return;  // the relay is shutting down
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = i == 0 ? client.get() : server.get();
      int to = i == 0 ? server.get() : client.get();
      ssize_t n = ::read(from, buf, sizeof(buf));
      if (n <= 0) {
        (i == 0 ? client_open : server_open) = false;
        ::shutdown(to, SHUT_WR);
        continue;
      }
      for (ssize_t done = 0; done < n;) {
        // MSG_NOSIGNAL: a peer that went away must end this pair, not the test process.
        ssize_t w = ::send(to, buf + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
        if (w <= 0) return;
        done += w;
      }
    }
  }
}

}  // namespace berth::testing
