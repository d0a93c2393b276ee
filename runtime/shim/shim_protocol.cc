#include "runtime/shim/shim_protocol.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"

namespace berth::shim {

namespace {

bool IsDisconnect(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

// CMSG_SPACE is not constexpr in every libc; this is its value for kMaxFds ints on Linux.
constexpr size_t kCmsgSpace = CMSG_ALIGN(sizeof(cmsghdr)) + CMSG_ALIGN(sizeof(int) * kMaxFds);

}  // namespace

absl::Status SendMessage(int sock, MsgType type, absl::string_view payload,
                         const std::vector<int>& fds) {
  if (payload.size() > kMaxPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("shim message payload of ", payload.size(), " bytes exceeds ", kMaxPayload));
  }
  if (fds.size() > static_cast<size_t>(kMaxFds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot pass ", fds.size(), " fds (max ", kMaxFds, ")"));
  }
  uint8_t type_byte = static_cast<uint8_t>(type);
  iovec iov[2];
  iov[0].iov_base = &type_byte;
  iov[0].iov_len = 1;
  iov[1].iov_base = const_cast<char*>(payload.data());
  iov[1].iov_len = payload.size();

  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = payload.empty() ? 1 : 2;
  alignas(cmsghdr) char control[kCmsgSpace];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return absl::OkStatus();
    if (errno == EINTR) continue;
    if (IsDisconnect(errno)) return absl::UnavailableError("shim connection closed");
    // On a non-blocking socket a full send buffer is EAGAIN -> RESOURCE_EXHAUSTED.
    return ErrnoToStatus("send shim message");
  }
}

absl::StatusOr<Message> ReceiveMessage(int sock) {
  // Peek at the packet's length first (MSG_TRUNC reports it whole) so that the buffer is as
  // big as this packet, not always kMaxPayload: the shim receives many small requests.
  char probe;
  ssize_t len;
  do {
    len = ::recv(sock, &probe, 1, MSG_PEEK | MSG_TRUNC);
  } while (len < 0 && errno == EINTR);
  if (len < 0) {
    if (IsDisconnect(errno)) return absl::UnavailableError("shim connection closed");
    return ErrnoToStatus("receive shim message");
  }
  std::string buf(len > 0 ? std::min<size_t>(static_cast<size_t>(len), 1 + kMaxPayload) : 1, '\0');
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[kCmsgSpace];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);

  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (IsDisconnect(errno)) return absl::UnavailableError("shim connection closed");
    return ErrnoToStatus("receive shim message");
  }

  // Take ownership of any passed fds first so that every error path closes them.
  Message out;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      out.fds.emplace_back(fd);
    }
  }
  if (n == 0) return absl::UnavailableError("shim connection closed");
  if (msg.msg_flags & MSG_TRUNC) return absl::InvalidArgumentError("shim message truncated");
  if (msg.msg_flags & MSG_CTRUNC) return absl::InvalidArgumentError("shim message fds truncated");
  out.type = static_cast<MsgType>(static_cast<uint8_t>(buf[0]));
  out.payload.assign(buf, 1, static_cast<size_t>(n) - 1);
  return out;
}

absl::StatusOr<UniqueFd> ConnectShim(const std::string& socket_path) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoToStatus("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // State directories can be deep: a path too long for sun_path is reached through an O_PATH
  // fd of its directory (/proc/self/fd/N/shim.sock), which the kernel resolves like any path.
  UniqueFd dir;
  std::string path = socket_path;
  if (path.size() >= sizeof(addr.sun_path)) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("shim socket path too long: ", socket_path));
    }
    std::string dir_path = slash == 0 ? "/" : path.substr(0, slash);
    dir.Reset(::open(dir_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return ErrnoToStatus(absl::StrCat("open ", dir_path));
    path = absl::StrCat("/proc/self/fd/", dir.get(), path.substr(slash));
    if (path.size() >= sizeof(addr.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat("shim socket path too long: ", socket_path));
    }
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == ECONNREFUSED) {
      return absl::UnavailableError(absl::StrCat("connect ", socket_path, ": shim not listening"));
    }
    return ErrnoToStatus(absl::StrCat("connect ", socket_path));
  }
  return sock;
}

absl::Status EndShim(const ShimState& state) {
  if (state.shim_pid <= 0) return absl::OkStatus();
  return SignalProcess(state.shim_pid, state.shim_start_time, SIGKILL);
}

absl::StatusOr<ShimState> ReadStateFile(const std::string& state_dir) {
  std::string path = absl::StrCat(state_dir, "/", kStateFileName);
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto state = Decode<ShimState>(*text);
  if (!state.ok()) return Annotate(state.status(), path);
  return state;
}

absl::Status WriteStateFile(const std::string& state_dir, const ShimState& state) {
  // The state of live processes: a host crash ends them anyway, so no fsync on each step.
  return WriteFileAtomic(absl::StrCat(state_dir, "/", kStateFileName), Encode(state), 0644,
                         Durability::kProcessCrashSafe);
}

}  // namespace berth::shim
