#include "runtime/shim/shim_stdio.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/fd_passing.h"

namespace berth::shim {

namespace {

absl::Status MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoToStatus("pipe2");
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  return absl::OkStatus();
}

}  // namespace

ContainerStdio ProcessStdio::ChildView() const {
  ContainerStdio view;
  view.stdin_fd = child_stdin.get();
  view.stdout_fd = child_stdout.get();
  view.stderr_fd = child_stderr.get();
  return view;
}

void ProcessStdio::CloseChildEnds() {
  child_stdin.Reset();
  child_stdout.Reset();
  child_stderr.Reset();
  child_console_socket.Reset();
}

absl::Status ProcessStdio::TakePtyMaster() {
  if (!console_socket) return absl::OkStatus();
  absl::StatusOr<UniqueFd> master = TakeSentFd(console_socket.get());
  if (!master.ok()) return Annotate(master.status(), "the process's terminal");
  pty_master = std::move(*master);
  console_socket.Reset();
  return absl::OkStatus();
}

absl::StatusOr<ProcessStdio> MakeProcessStdio(bool terminal, bool with_stdin) {
  ProcessStdio io;
  if (terminal) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return ErrnoToStatus("socketpair");
    io.console_socket.Reset(pair[0]);
    io.child_console_socket.Reset(pair[1]);
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
