#include "runtime/base/signal_names.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"

namespace berth {
namespace {

struct NamedSignal {
  const char* name;
  int number;
};

// Linux numbers, spelled out so the table does not depend on the libc that builds the CLI.
// The first name of a number is its canonical one.
constexpr NamedSignal kSignals[] = {
    {"HUP", 1},     {"INT", 2},     {"QUIT", 3},    {"ILL", 4},      {"TRAP", 5},
    {"ABRT", 6},    {"IOT", 6},     {"BUS", 7},     {"FPE", 8},      {"KILL", 9},
    {"USR1", 10},   {"SEGV", 11},   {"USR2", 12},   {"PIPE", 13},    {"ALRM", 14},
    {"TERM", 15},   {"STKFLT", 16}, {"CHLD", 17},   {"CONT", 18},    {"STOP", 19},
    {"TSTP", 20},   {"TTIN", 21},   {"TTOU", 22},   {"URG", 23},     {"XCPU", 24},
    {"XFSZ", 25},   {"VTALRM", 26}, {"PROF", 27},   {"WINCH", 28},   {"IO", 29},
    {"POLL", 29},   {"PWR", 30},    {"SYS", 31},
};

constexpr int kMaxSignal = 64;

}  // namespace

absl::StatusOr<int> ParseSignal(std::string_view text) {
  std::string s(text);
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    if (s.size() <= 2) {
      const int n = std::stoi(s);
      if (n >= 1 && n <= kMaxSignal) return n;
    }
    return absl::InvalidArgumentError("invalid signal '" + s + "': numbers run from 1 to 64");
  }
  absl::AsciiStrToUpper(&s);
  if (s.rfind("SIG", 0) == 0) s.erase(0, 3);
  for (const NamedSignal& entry : kSignals) {
    if (s == entry.name) return entry.number;
  }
  return absl::InvalidArgumentError("invalid signal '" + std::string(text) + "'");
}

std::string SignalName(int number) {
  for (const NamedSignal& entry : kSignals) {
    if (entry.number == number) return std::string("SIG") + entry.name;
  }
  return std::to_string(number);  // real-time signals keep their number
}

}  // namespace berth
