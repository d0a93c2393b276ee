#include "cli/units.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"

namespace berth::cli {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// Splits "12.345" into "12" and "345"; either may be empty but not both. No sign, no exponent.
bool SplitDecimal(std::string_view s, std::string_view* whole, std::string_view* fraction) {
  const size_t dot = s.find('.');
  *whole = s.substr(0, dot);
  *fraction = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole->empty() && fraction->empty()) return false;
  if (!whole->empty() && !AllDigits(*whole)) return false;
  if (dot != std::string_view::npos && !fraction->empty() && !AllDigits(*fraction)) return false;
  return true;
}

}  // namespace

absl::StatusOr<int64_t> ParseMemoryBytes(std::string_view text) {
  auto invalid = [&] {
    return absl::InvalidArgumentError("invalid size '" + std::string(text) +
                                      "': expected a number with an optional k, m, g, t or p suffix");
  };
  size_t i = 0;
  while (i < text.size() && (IsDigit(text[i]) || text[i] == '.')) ++i;
  std::string_view number = text.substr(0, i);
  std::string_view whole, fraction;
  if (!SplitDecimal(number, &whole, &fraction) || whole.empty()) return invalid();
  std::string_view suffix = text.substr(i);
  if (!suffix.empty() && suffix.front() == ' ') {
    suffix.remove_prefix(1);
    if (suffix.empty()) return invalid();  // "64 ": a space must precede a unit
  }

  long double multiplier = 1;
  if (!suffix.empty()) {
    int power = 0;
    switch (std::tolower(static_cast<unsigned char>(suffix.front()))) {
      case 'k': power = 1; break;
      case 'm': power = 2; break;
      case 'g': power = 3; break;
      case 't': power = 4; break;
      case 'p': power = 5; break;
      default: break;
    }
    if (power > 0) {
      suffix.remove_prefix(1);
      multiplier = std::ldexp(1.0L, 10 * power);
      if (!suffix.empty() && std::tolower(static_cast<unsigned char>(suffix.front())) == 'i') {
        suffix.remove_prefix(1);
      }
    }
    if (!suffix.empty() && std::tolower(static_cast<unsigned char>(suffix.front())) == 'b') {
      suffix.remove_prefix(1);
    }
    if (!suffix.empty()) return invalid();
  }
  const long double value = std::stold(std::string(number)) * multiplier;
  if (!(value < static_cast<long double>(std::numeric_limits<int64_t>::max()))) {
    return absl::InvalidArgumentError("size '" + std::string(text) + "' is too large");
  }
  return static_cast<int64_t>(value);
}

absl::StatusOr<int64_t> ParseCpuMillis(std::string_view text) {
  std::string_view whole, fraction;
  if (!SplitDecimal(text, &whole, &fraction)) {
    return absl::InvalidArgumentError("invalid CPU count '" + std::string(text) +
                                      "': expected a decimal number such as 0.5 or 2");
  }
  if (whole.size() > 9) {
    return absl::InvalidArgumentError("CPU count '" + std::string(text) + "' is too large");
  }
  int64_t millis = whole.empty() ? 0 : std::stoll(std::string(whole)) * 1000;
  for (size_t i = 0; i < fraction.size(); ++i) {
    const int digit = fraction[i] - '0';
    if (i < 3) {
      millis += digit * (i == 0 ? 100 : i == 1 ? 10 : 1);
    } else if (digit != 0) {
      return absl::InvalidArgumentError("CPU count '" + std::string(text) +
                                        "' is too precise: the granularity is 0.001");
    }
  }
  return millis;
}

absl::StatusOr<absl::Time> ParseSince(std::string_view text, absl::Time now) {
  const std::string s(text);
  if (s.empty()) return absl::InvalidArgumentError("empty --since value");

  std::string_view whole, fraction;
  if (SplitDecimal(text, &whole, &fraction) && !whole.empty()) {
    // A Unix timestamp, seconds with an optional fraction.
    absl::Time t = absl::FromUnixSeconds(std::stoll(std::string(whole)));
    if (!fraction.empty()) {
      std::string nanos(fraction.substr(0, 9));
      nanos.resize(9, '0');
      t += absl::Nanoseconds(std::stoll(nanos));
    }
    return t;
  }

  absl::Duration ago;
  if (absl::ParseDuration(s, &ago)) {
    if (ago < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("--since " + s + ": negative duration");
    }
    return now - ago;
  }

  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return t;
  // No zone given: the user's local time, as docker does.
  for (const char* format : {"%Y-%m-%dT%H:%M:%E*S", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, s, absl::LocalTimeZone(), &t, &err)) return t;
  }
  return absl::InvalidArgumentError(
      "invalid --since '" + s +
      "': expected a duration (10m), an RFC 3339 time, or a Unix timestamp");
}

absl::StatusOr<int64_t> ParseTail(std::string_view text) {
  if (text == "all") return -1;
  if (!AllDigits(text) || text.size() > 18) {
    return absl::InvalidArgumentError("invalid --tail '" + std::string(text) +
                                      "': expected a line count or 'all'");
  }
  return std::stoll(std::string(text));
}

}  // namespace berth::cli
