#include "runtime/shim/shim_zygote.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::shim {

absl::StatusOr<bool> ServeForks(int socket_fd) {
  // Standbys stay our children until they exit; the kernel reaps them, since nothing here
  // ever waits.
  ::signal(SIGCHLD, SIG_IGN);
  for (;;) {
    absl::StatusOr<Message> request = ReceiveMessage(socket_fd);
    if (absl::IsUnavailable(request.status())) return false;
    if (!request.ok()) return request.status();
    if (request->type != MsgType::kFork || request->fds.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("a berth-shim zygote expects a fork with one fd, got message type ",
                                                     static_cast<int>(request->type), " with ",
                                                     request->fds.size(), " fds"));
    }
    const pid_t child = ::fork();
    if (child == 0) {
      // A shim waits for its container's init through SIGCHLD: ignored, the kernel would reap it.
      ::signal(SIGCHLD, SIG_DFL);
      // The standby's socket takes the zygote's place, which the agent must see close with
      // the zygote alone.
      if (::dup3(request->fds[0].get(), kShimReportFd, O_CLOEXEC) < 0) ::_exit(1);
      if (socket_fd != kShimReportFd) ::close(socket_fd);
      return true;
    }
    // When fork failed, the standby's socket closes here unused: the agent's handover to it
    // fails, and that launch starts its shim directly.
  }
}

}  // namespace berth::shim
