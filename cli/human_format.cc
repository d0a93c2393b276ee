#include "cli/human_format.h"

#include <cstdint>
#include <cstdio>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::cli {
namespace {

bool IsContinuationByte(unsigned char c) { return (c & 0xC0) == 0x80; }

bool HasTime(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

}  // namespace

absl::Time TimeFromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp TimeToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds toward negative infinity
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return ts;
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t seconds = absl::ToInt64Seconds(d);
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return absl::StrCat(seconds, " seconds");
  const int64_t minutes = absl::ToInt64Minutes(d);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return absl::StrCat(minutes, " minutes");
  const int64_t hours = static_cast<int64_t>(absl::ToDoubleHours(d) + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return absl::StrCat(hours, " hours");
  if (hours < 24 * 7 * 2) return absl::StrCat(hours / 24, " days");
  if (hours < 24 * 30 * 2) return absl::StrCat(hours / 24 / 7, " weeks");
  if (hours < 24 * 365 * 2) return absl::StrCat(hours / 24 / 30, " months");
  return absl::StrCat(absl::ToInt64Hours(d) / 24 / 365, " years");
}

std::string CreatedText(const berth::v1::Container& c, absl::Time now) {
  if (!HasTime(c.created_at())) return "";
  return absl::StrCat(HumanDuration(now - TimeFromProto(c.created_at())), " ago");
}

std::string StatusText(const berth::v1::Container& c, absl::Time now) {
  switch (c.state()) {
    case berth::v1::CREATED:
      return "Created";
    case berth::v1::RUNNING:
    case berth::v1::PAUSED: {
      std::string s = "Up";
      if (HasTime(c.started_at())) {
        absl::StrAppend(&s, " ", HumanDuration(now - TimeFromProto(c.started_at())));
      }
      if (c.state() == berth::v1::PAUSED) s += " (Paused)";
      // docker ps's "(healthy)", "(unhealthy)", "(health: starting)".
      const std::string& health = c.health().status();
      if (health == "starting") {
        s += " (health: starting)";
      } else if (!health.empty()) {
        absl::StrAppend(&s, " (", health, ")");
      }
      if (c.restart_count() > 0) absl::StrAppend(&s, " (restarted ", c.restart_count(), "x)");
      return s;
    }
    case berth::v1::EXITED: {
      std::string s = absl::StrCat("Exited (", c.exit_code(), ")");
      if (HasTime(c.finished_at())) {
        absl::StrAppend(&s, " ", HumanDuration(now - TimeFromProto(c.finished_at())), " ago");
      }
      if (c.restart_count() > 0) absl::StrAppend(&s, " (restarted ", c.restart_count(), "x)");
      return s;
    }
    default:
      return "Unknown";
  }
}

std::string CommandText(const berth::v1::Container& c, bool truncate) {
  std::string command = absl::StrJoin(c.command(), " ");
  if (truncate) command = Ellipsis(command, kCommandColumnWidth);
  return Quote(command);
}

std::string ShortId(std::string_view id) { return std::string(id.substr(0, kShortIdLength)); }

size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (char c : s) {
    if (!IsContinuationByte(static_cast<unsigned char>(c))) ++width;
  }
  return width;
}

std::string Ellipsis(std::string_view s, size_t max_width) {
  if (DisplayWidth(s) <= max_width) return std::string(s);
  if (max_width == 0) return "";
  // Keep max_width - 1 code points, then the ellipsis.
  size_t kept = 0;
  size_t end = 0;
  while (end < s.size()) {
    if (!IsContinuationByte(static_cast<unsigned char>(s[end]))) {
      if (kept == max_width - 1) break;
      ++kept;
    }
    ++end;
  }
  return std::string(s.substr(0, end)) + "\u2026";
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

namespace {

// Four significant digits in the largest unit (each `base` times the one before) under which
// the size is at least 1.
template <size_t N>
std::string ScaledSize(double size, double base, const char* const (&units)[N]) {
  size_t unit = 0;
  while (size >= base && unit + 1 < N) {
    size /= base;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%s", size, units[unit]);
  return buf;
}

}  // namespace

std::string HumanSize(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  return ScaledSize(bytes < 0 ? 0 : static_cast<double>(bytes), 1000.0, kUnits);
}

std::string BinarySize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  return ScaledSize(static_cast<double>(bytes), 1024.0, kUnits);
}

std::string FormatLogTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone());
}

std::string StateWord(berth::v1::ContainerState state) {
  switch (state) {
    case berth::v1::CREATED: return "created";
    case berth::v1::RUNNING: return "running";
    case berth::v1::PAUSED: return "paused";
    case berth::v1::EXITED: return "exited";
    default: return "unknown";
  }
}

}  // namespace berth::cli
