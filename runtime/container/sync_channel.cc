#include "runtime/container/sync_channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth::container_internal {

namespace {

constexpr char kErrnoPayload[] = "dev.berth/errno";
constexpr size_t kMaxText = 4000;

struct WireHeader {
  uint32_t kind;
  int32_t err;
  int32_t code;
  uint32_t text_len;
};

}  // namespace

absl::Status SysError(int err, absl::string_view what) {
  absl::Status status = ErrnoStatus(err, what);
  status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(err)));
  return status;
}

absl::Status SysError(absl::string_view what) { return SysError(errno, what); }

int ErrnoOf(const absl::Status& status) {
  auto payload = status.GetPayload(kErrnoPayload);
  int err = 0;
  if (payload && absl::SimpleAtoi(std::string(*payload), &err)) return err;
  return 0;
}

absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out = Annotate(status, context);
  if (int err = ErrnoOf(status); err != 0) {
    out.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(err)));
  }
  return out;
}

absl::Status SyncChannel::MakePair(SyncChannel* a, SyncChannel* b) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoToStatus("socketpair");
  }
  *a = SyncChannel(UniqueFd(fds[0]));
  *b = SyncChannel(UniqueFd(fds[1]));
  return absl::OkStatus();
}

namespace {

constexpr size_t kMaxFds = 8;

absl::Status SendPacket(int fd, SyncKind kind, int err, absl::StatusCode code,
                        absl::string_view text, const std::vector<int>& fds = {}) {
  if (text.size() > kMaxText) text = text.substr(0, kMaxText);
  WireHeader header{static_cast<uint32_t>(kind), err, static_cast<int32_t>(code),
                    static_cast<uint32_t>(text.size())};
  struct iovec iov[2] = {{&header, sizeof(header)}, {const_cast<char*>(text.data()), text.size()}};
  struct msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = text.empty() ? 1 : 2;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    if (fds.size() > kMaxFds) return SysError(EINVAL, "too many fds for one sync message");
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SysError("send sync message");
  return absl::OkStatus();
}

}  // namespace

absl::Status SyncChannel::Send(SyncKind kind, const std::vector<int>& fds) {
  return SendPacket(fd_.get(), kind, 0, absl::StatusCode::kOk, "", fds);
}

absl::Status SyncChannel::SendError(const absl::Status& status) {
  absl::StatusCode code = status.ok() ? absl::StatusCode::kInternal : status.code();
  return SendPacket(fd_.get(), SyncKind::kError, ErrnoOf(status), code, status.message());
}

absl::StatusOr<std::optional<SyncMessage>> SyncChannel::Receive() {
  char buf[sizeof(WireHeader) + kMaxText];
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(fd_.get(), &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  std::vector<UniqueFd> fds;
  if (n >= 0) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.emplace_back(received);
      }
    }
  }
  if (n < 0) {
    if (errno == ECONNRESET) return std::nullopt;
    return SysError("receive sync message");
  }
  if (n == 0) return std::nullopt;
  if (static_cast<size_t>(n) < sizeof(WireHeader)) {
    return absl::InternalError(absl::StrCat("short sync message (", n, " bytes)"));
  }
  WireHeader header;
  std::memcpy(&header, buf, sizeof(header));
  if (header.text_len > static_cast<size_t>(n) - sizeof(header)) {
    return absl::InternalError("malformed sync message");
  }
  SyncMessage msg;
  msg.kind = static_cast<SyncKind>(header.kind);
  msg.err = header.err;
  msg.fds = std::move(fds);
  if (msg.kind == SyncKind::kError) {
    absl::StatusCode code = static_cast<absl::StatusCode>(header.code);
    if (code == absl::StatusCode::kOk) code = absl::StatusCode::kInternal;
    msg.status = absl::Status(code, absl::string_view(buf + sizeof(header), header.text_len));
    if (msg.err != 0) {
      msg.status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(msg.err)));
    }
  }
  return msg;
}

absl::Status SyncChannel::MoveAbove(int min_fd) {
  if (fd_.get() >= min_fd) return absl::OkStatus();
  int moved = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, min_fd);
  if (moved < 0) return SysError("move sync fd");
  fd_.Reset(moved);
  return absl::OkStatus();
}

absl::Status ExpectMessage(SyncChannel& channel, SyncKind expected,
                           const absl::Status& eof_status, std::vector<UniqueFd>* fds) {
  absl::StatusOr<std::optional<SyncMessage>> msg = channel.Receive();
  if (!msg.ok()) return msg.status();
  if (!msg->has_value()) return eof_status;
  if ((*msg)->kind == SyncKind::kError) return (*msg)->status;
  if ((*msg)->kind != expected) {
    return absl::InternalError(absl::StrCat("sync: expected message ",
                                            static_cast<uint32_t>(expected), ", got ",
                                            static_cast<uint32_t>((*msg)->kind)));
  }
  if (fds != nullptr) *fds = std::move((*msg)->fds);
  return absl::OkStatus();
}

}  // namespace berth::container_internal
