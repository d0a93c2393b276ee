#include "runtime/shim/shim_stdio.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth::shim {

namespace {

absl::Status MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoToStatus("pipe2");
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  return absl::OkStatus();
}

absl::Status OpenPty(UniqueFd& master, UniqueFd& slave) {
  master.Reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return ErrnoToStatus("posix_openpt");
  if (::grantpt(master.get()) != 0) return ErrnoToStatus("grantpt");
  if (::unlockpt(master.get()) != 0) return ErrnoToStatus("unlockpt");
  char name[128];
  if (int err = ::ptsname_r(master.get(), name, sizeof(name)); err != 0) {
    return ErrnoStatus(err, "ptsname");
  }
  slave.Reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return ErrnoToStatus(absl::StrCat("open ", name));
  return absl::OkStatus();
}

}  // namespace

ContainerStdio ProcessStdio::ChildView() const {
  ContainerStdio view;
  view.stdin_fd = child_stdin.get();
  view.stdout_fd = child_stdout.get();
  view.stderr_fd = child_stderr.get();
  view.terminal = child_terminal.get();
  return view;
}

void ProcessStdio::CloseChildEnds() {
  child_stdin.Reset();
  child_stdout.Reset();
  child_stderr.Reset();
  child_terminal.Reset();
}

absl::StatusOr<ProcessStdio> MakeProcessStdio(
    bool terminal, bool with_stdin, const std::optional<spec::ConsoleSize>& console_size) {
  ProcessStdio io;
  if (terminal) {
    if (absl::Status st = OpenPty(io.pty_master, io.child_terminal); !st.ok()) return st;
    if (console_size && console_size->height > 0 && console_size->width > 0) {
      winsize ws{};
      ws.ws_row = static_cast<unsigned short>(console_size->height);
      ws.ws_col = static_cast<unsigned short>(console_size->width);
      if (::ioctl(io.pty_master.get(), TIOCSWINSZ, &ws) != 0) {
        return ErrnoToStatus("set terminal size");
      }
    }
    return io;
  }
  if (with_stdin) {
    if (absl::Status st = MakePipe(io.child_stdin, io.stdin_writer); !st.ok()) return st;
  }
  if (absl::Status st = MakePipe(io.stdout_reader, io.child_stdout); !st.ok()) return st;
  if (absl::Status st = MakePipe(io.stderr_reader, io.child_stderr); !st.ok()) return st;
  return io;
}

}  // namespace berth::shim
