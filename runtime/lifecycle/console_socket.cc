#include "runtime/lifecycle/console_socket.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/quote.h"

namespace berth::lifecycle {

absl::StatusOr<UniqueFd> ConnectConsoleSocket(const std::string& socket_path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "console socket ", Quoted(socket_path), ": not a usable Unix socket path (1..107 bytes)"));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoToStatus("socket");
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoToStatus(absl::StrCat("connect to the console socket ", Quoted(socket_path)));
  }
  return sock;
}

}  // namespace berth::lifecycle
