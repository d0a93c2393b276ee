#include "agent/cri/streaming/byte_stream.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/errno_status.h"

namespace berth::agent::cri::streaming {

ByteStream::ByteStream(int fd, std::string already_read) : fd_(fd), pending_(std::move(already_read)) {
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
}

absl::Status ByteStream::ReadExact(char* out, size_t size) {
  size_t done = 0;
  if (pending_pos_ < pending_.size()) {
    done = std::min(size, pending_.size() - pending_pos_);
    std::memcpy(out, pending_.data() + pending_pos_, done);
    pending_pos_ += done;
  }
  while (done < size) {
    ssize_t n = ::read(fd_, out + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read from the stream connection");
    if (n == 0) {
      return done == 0 ? absl::OutOfRangeError("the client closed the connection")
                       : absl::DataLossError("the connection ended inside a frame");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status ByteStream::Write(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(write_mu_);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write to the stream connection");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

void ByteStream::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace berth::agent::cri::streaming
