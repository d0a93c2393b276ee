#include "runtime/container/container_pty.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/fd_passing.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/path_in_root.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

absl::Status OpenContainerPty(int root_fd, ContainerPty& pty) {
  absl::StatusOr<UniqueFd> master = OpenInRoot(root_fd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY);
  if (!master.ok()) return WithContext(master.status(), "open the container's /dev/pts/ptmx");
  pty.master = std::move(*master);
  int unlock = 0;
  if (::ioctl(pty.master.get(), TIOCSPTLCK, &unlock) != 0) return SysError("unlock the pty");
  int slave = ::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return SysError("open the pty's slave");
  pty.slave.Reset(slave);
  return absl::OkStatus();
}

absl::Status SendPtyMaster(int socket_fd, ContainerPty& pty) {
  int number = 0;
  if (::ioctl(pty.master.get(), TIOCGPTN, &number) != 0) return SysError("number of the pty");
  RETURN_IF_ERROR(SendFd(socket_fd, pty.master.get(), absl::StrCat("/dev/pts/", number)));
  pty.master.Reset();
  return absl::OkStatus();
}

}  // namespace berth::container_internal
