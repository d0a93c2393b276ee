// How containers and times read in a terminal: "Up 3 minutes", "5 seconds ago", short ids,
// quoted and truncated commands, log timestamps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "berth/v1/containers.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace berth::cli {

inline constexpr size_t kShortIdLength = 12;
inline constexpr size_t kCommandColumnWidth = 20;

absl::Time TimeFromProto(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp TimeToProto(absl::Time t);

// docker's wording: "Less than a second", "1 second", "5 seconds", "About a minute",
// "3 minutes", "About an hour", "5 hours", "3 days", "2 weeks", "4 months", "2 years".
// Negative durations (clock skew) read as zero.
std::string HumanDuration(absl::Duration d);

// "5 seconds ago"; "" when the container has no creation time.
std::string CreatedText(const berth::v1::Container& c, absl::Time now);

// "Created", "Up 3 minutes", "Up 3 minutes (Paused)", "Exited (0) 2 minutes ago".
std::string StatusText(const berth::v1::Container& c, absl::Time now);

// The argv joined by spaces, optionally cut to kCommandColumnWidth characters with "…", then
// quoted: "\"sleep 1000\"".
std::string CommandText(const berth::v1::Container& c, bool truncate);

// docker's word for a state: created, running, paused, exited.
std::string StateWord(berth::v1::ContainerState state);

std::string ShortId(std::string_view id);

// Number of UTF-8 code points, a fair stand-in for terminal columns.
size_t DisplayWidth(std::string_view s);

// `s` cut to at most `max_width` code points, the last one replaced by "…" when cut.
std::string Ellipsis(std::string_view s, size_t max_width);

// Double-quoted with \" \\ and control characters escaped.
std::string Quote(std::string_view s);

// Bytes in docker's decimal units with four significant digits: "0B", "999B", "1.5kB",
// "30MB", "4.295GB" (units.HumanSize). Negative sizes read as 0B.
std::string HumanSize(int64_t bytes);
// Memory in docker's binary units: "0B", "512KiB", "12.5MiB", "1.953GiB".
std::string BinarySize(uint64_t bytes);

// "2024-01-02T03:04:05.000000000Z": fixed width so log lines align.
std::string FormatLogTimestamp(absl::Time t);

}  // namespace berth::cli
