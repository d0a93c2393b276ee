// The local terminal: raw mode for `-it` sessions, its size, and restoring it on every way out
// (normal return, error, or a fatal signal handled by the signal router).
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"

namespace berth::cli {

bool IsTerminal(int fd);

// Prints "WARNING! <warning>" and asks "Are you sure you want to continue? [y/N]" on stdout;
// true only for "y" or "yes" read from stdin (docker's prune prompt).
bool AskToContinue(std::string_view warning);

// Rows and columns of the terminal on stdout (or stdin when stdout is redirected).
std::optional<berth::v1::TerminalSize> CurrentTerminalSize();

// Puts a terminal in raw mode until destroyed: keys go to the container unchanged (Ctrl-C is a
// byte, not SIGINT) and output is not post-processed (the container's pty already did). While
// raw, SIGPIPE is ignored so a closed stdout cannot kill the CLI with the terminal left raw.
class RawTerminal {
 public:
  static absl::StatusOr<std::unique_ptr<RawTerminal>> Enable(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  RawTerminal() = default;
};

// For the signal router before it lets a fatal signal kill the process: puts back the saved
// terminal mode, if any terminal is raw. Safe to call at any time, from any thread.
void RestoreTerminalForExit();

}  // namespace berth::cli
