#include "cli/terminal.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <mutex>

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"

namespace berth::cli {
namespace {

// One raw terminal at a time: the saved state lives here so the signal thread can reach it.
struct SavedTerminal {
  std::mutex mu;
  bool active = false;
  int fd = -1;
  struct termios mode {};
  struct sigaction sigpipe {};
};

SavedTerminal& Saved() {
  static SavedTerminal* saved = new SavedTerminal();
  return *saved;
}

// Caller holds Saved().mu.
void RestoreLocked(SavedTerminal& saved) {
  if (!saved.active) return;
  while (tcsetattr(saved.fd, TCSANOW, &saved.mode) != 0 && errno == EINTR) {
  }
  sigaction(SIGPIPE, &saved.sigpipe, nullptr);
  saved.active = false;
}

}  // namespace

bool IsTerminal(int fd) { return isatty(fd) == 1; }

bool AskToContinue(std::string_view warning) {
  std::cout << "WARNING! " << warning << "\nAre you sure you want to continue? [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
  return answer == "y" || answer == "yes";
}

std::optional<berth::v1::TerminalSize> CurrentTerminalSize() {
  for (int fd : {STDOUT_FILENO, STDIN_FILENO}) {
    struct winsize ws {};
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
      berth::v1::TerminalSize size;
      size.set_rows(ws.ws_row);
      size.set_cols(ws.ws_col);
      return size;
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<RawTerminal>> RawTerminal::Enable(int fd) {
  SavedTerminal& saved = Saved();
  std::lock_guard<std::mutex> lock(saved.mu);
  if (saved.active) return absl::FailedPreconditionError("a terminal is already in raw mode");
  struct termios mode {};
  if (tcgetattr(fd, &mode) != 0) {
    return absl::FailedPreconditionError(std::string("tcgetattr: ") + std::strerror(errno));
  }
  struct termios raw = mode;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  if (sigaction(SIGPIPE, &ignore, &saved.sigpipe) != 0) {
    return absl::InternalError(std::string("sigaction(SIGPIPE): ") + std::strerror(errno));
  }
  saved.fd = fd;
  saved.mode = mode;
  saved.active = true;
  if (tcsetattr(fd, TCSANOW, &raw) != 0) {
    const int err = errno;
    RestoreLocked(saved);
    return absl::FailedPreconditionError(std::string("tcsetattr: ") + std::strerror(err));
  }
  return std::unique_ptr<RawTerminal>(new RawTerminal());
}

RawTerminal::~RawTerminal() {
  SavedTerminal& saved = Saved();
  std::lock_guard<std::mutex> lock(saved.mu);
  RestoreLocked(saved);
}

void RestoreTerminalForExit() {
  SavedTerminal& saved = Saved();
  std::lock_guard<std::mutex> lock(saved.mu);
  RestoreLocked(saved);
}

}  // namespace berth::cli
