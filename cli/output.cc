#include "cli/output.h"

#include <cerrno>

#include <poll.h>
#include <unistd.h>

namespace berth::cli {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {  // someone made our stdout non-blocking: wait until it drains
        struct pollfd p = {fd, POLLOUT, 0};
        poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

int FdForStream(berth::v1::Stream stream) {
  return stream == berth::v1::STDERR ? STDERR_FILENO : STDOUT_FILENO;
}

}  // namespace berth::cli
