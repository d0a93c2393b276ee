// Colour for a person at a terminal, and never for a program reading our output: a stream is
// coloured only when it is a terminal, NO_COLOR is unset or empty (no-color.org) and TERM is not
// "dumb". Callers colour a few words that help the eye (the "Error:" prefix, the STATUS of
// `ps`); --format and JSON output never go through here.
#pragma once

#include <string>
#include <string_view>

namespace berth::cli {

enum class Colour { kNone, kRed, kGreen, kYellow };

// The rule itself, apart from the process's environment (tests call it directly).
bool ColourWanted(bool is_terminal, const char* no_color, const char* term);

// The rule for the stream on `fd` with this process's NO_COLOR and TERM.
bool ColourWantedFor(int fd);

// `text` between the escape of `colour` and a reset; `text` unchanged when `on` is false or
// the colour is kNone.
std::string Paint(std::string_view text, Colour colour, bool on);

}  // namespace berth::cli
