#include "agent/cri/streaming/pod_dialer.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/network/netns.h"

namespace berth::agent::cri::streaming {
namespace {

// On the calling thread, already in the namespace.
absl::StatusOr<UniqueFd> ConnectLoopback(uint16_t port) {
  int last_errno = 0;
  for (int family : {AF_INET, AF_INET6}) {
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
      last_errno = errno;
      continue;
    }
    sockaddr_storage storage = {};
    socklen_t len;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&storage);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      a->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), len) == 0) return fd;
    last_errno = errno;
  }
  return ErrnoStatus(last_errno, absl::StrCat("connect to localhost:", port, " in the pod"));
}

}  // namespace

absl::StatusOr<UniqueFd> DialLoopbackOf(int pid, uint16_t port) {
  auto netns = net::OpenNetnsOfPid(pid);
  if (!netns.ok()) return netns.status();
  UniqueFd connected;
  absl::Status st = net::RunInNetns(netns->get(), [&]() -> absl::Status {
    auto fd = ConnectLoopback(port);
    if (!fd.ok()) return fd.status();
    connected = std::move(*fd);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return connected;
}

}  // namespace berth::agent::cri::streaming
