#include "cli/terminal_style.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace berth::cli {

bool ColourWanted(bool is_terminal, const char* no_color, const char* term) {
  if (!is_terminal) return false;
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

bool ColourWantedFor(int fd) {
  return ColourWanted(::isatty(fd) == 1, std::getenv("NO_COLOR"), std::getenv("TERM"));
}

std::string Paint(std::string_view text, Colour colour, bool on) {
  const char* start = nullptr;
  switch (colour) {
    case Colour::kRed:
      start = "\033[31m";
      break;
    case Colour::kGreen:
      start = "\033[32m";
      break;
    case Colour::kYellow:
      start = "\033[33m";
      break;
    case Colour::kNone:
      break;
  }
  if (!on || start == nullptr) return std::string(text);
  std::string out(start);
  out += text;
  out += "\033[0m";
  return out;
}

}  // namespace berth::cli
