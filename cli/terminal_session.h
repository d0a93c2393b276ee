// The local end of an interactive stream (run's Attach, exec): raw mode when -it on a terminal,
// the stdin pump for -i, resizes on SIGWINCH for -t, and an optional handler for the other
// signals (run proxies them to the container). End() undoes it all, in reverse order.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/signal_router.h"
#include "cli/stdin_pump.h"
#include "cli/stream_input.h"
#include "cli/terminal.h"

namespace berth::cli {

class TerminalSession {
 public:
  struct Options {
    bool stdin = false;  // copy our stdin to the process
    bool tty = false;    // the process has a pty: raw mode (with stdin on a terminal), resizes
    // Offered every routed signal except SIGWINCH; returns true when handled. Unset: defaults.
    std::function<bool(int signo)> on_signal;
    // With stdin and tty: these keys (raw bytes, see ParseDetachKeys) call on_detach.
    std::string detach_keys;
    std::function<void()> on_detach;
  };

  static absl::StatusOr<std::unique_ptr<TerminalSession>> Begin(InputSink& sink, Options options);
  ~TerminalSession() { End(); }
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;

  // Stops reading stdin, drops the signal handler and restores the terminal. Idempotent.
  void End();

 private:
  TerminalSession() = default;

  std::unique_ptr<RawTerminal> raw_;
  std::unique_ptr<ScopedSignalHandler> signals_;
  std::unique_ptr<StdinPump> pump_;
};

}  // namespace berth::cli
