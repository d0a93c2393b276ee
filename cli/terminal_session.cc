#include "cli/terminal_session.h"

#include <csignal>

#include <unistd.h>

namespace berth::cli {

absl::StatusOr<std::unique_ptr<TerminalSession>> TerminalSession::Begin(InputSink& sink,
                                                                        Options options) {
  std::unique_ptr<TerminalSession> session(new TerminalSession());
  if (options.tty && options.stdin && IsTerminal(STDIN_FILENO)) {
    absl::StatusOr<std::unique_ptr<RawTerminal>> raw = RawTerminal::Enable(STDIN_FILENO);
    if (!raw.ok()) return raw.status();
    session->raw_ = *std::move(raw);
  }
  session->signals_ = std::make_unique<ScopedSignalHandler>(
      [&sink, tty = options.tty, on_signal = std::move(options.on_signal)](int signo) {
        if (signo == SIGWINCH) {
          if (tty) {
            if (auto size = CurrentTerminalSize()) sink.Resize(*size);
          }
          return true;
        }
        return on_signal ? on_signal(signo) : false;
      });
  if (options.stdin) {
    // Detach keys are docker's for an attached terminal only: piped input is data.
    const bool detachable = options.tty && !options.detach_keys.empty();
    absl::StatusOr<std::unique_ptr<StdinPump>> pump =
        StdinPump::Start(sink, detachable ? options.detach_keys : "", std::move(options.on_detach));
    if (!pump.ok()) return pump.status();  // ~TerminalSession undoes the rest
    session->pump_ = *std::move(pump);
  }
  return session;
}

void TerminalSession::End() {
  pump_.reset();
  signals_.reset();
  raw_.reset();
}

}  // namespace berth::cli
