// Stdio for a process the shim starts (the container's init or an exec): either a pseudo
// terminal or pipes. The child's ends go into ContainerStdio and are closed by the shim once the
// process exists; the other ends are read by the shim (init) or handed to the agent (exec).
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/container/container.h"
#include "runtime/spec/spec.h"

namespace berth::shim {

struct ProcessStdio {
  // The child's ends.
  UniqueFd child_stdin, child_stdout, child_stderr, child_terminal;
  // The other ends: with a terminal only `pty_master`; else `stdin_writer` (only when stdin was
  // asked for), `stdout_reader` and `stderr_reader`.
  UniqueFd stdin_writer, stdout_reader, stderr_reader, pty_master;

  ContainerStdio ChildView() const;
  void CloseChildEnds();
};

// All fds are O_CLOEXEC (the container code dup2()s the child's ends onto 0/1/2). A terminal
// gets `console_size` when given.
absl::StatusOr<ProcessStdio> MakeProcessStdio(bool terminal, bool with_stdin,
                                              const std::optional<spec::ConsoleSize>& console_size);

}  // namespace berth::shim
