// Stdio for a process the shim starts (the container's init or an exec): either a pseudo
// terminal or pipes. The child's ends go into ContainerStdio and are closed by the shim once the
// process exists; the other ends are read by the shim (init) or handed to the agent (exec).
//
// A terminal is the container's own: the process opens it in the container's /dev/pts (so
// `tty` inside names it) and sends the master back over a socket pair made here.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/container/container.h"

namespace berth::shim {

struct ProcessStdio {
  // The child's ends; with a terminal only `child_console_socket`.
  UniqueFd child_stdin, child_stdout, child_stderr, child_console_socket;
  // The other ends: with a terminal `console_socket` (and, once taken, `pty_master`); else
  // `stdin_writer` (only when stdin was asked for), `stdout_reader` and `stderr_reader`.
  UniqueFd stdin_writer, stdout_reader, stderr_reader, console_socket, pty_master;

  ContainerStdio ChildView() const;
  int ChildConsoleSocket() const { return child_console_socket ? child_console_socket.get() : -1; }
  void CloseChildEnds();
  // With a terminal, once the process exists (it sends the master before it runs): takes the
  // master into `pty_master`. Without a terminal: nothing to do.
  absl::Status TakePtyMaster();
};

// All fds are O_CLOEXEC (the container code dup2()s the child's ends onto 0/1/2).
absl::StatusOr<ProcessStdio> MakeProcessStdio(bool terminal, bool with_stdin);

}  // namespace berth::shim
