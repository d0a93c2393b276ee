#include "cli/event_format.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/human_format.h"
#include "cli/units.h"
#include "runtime/base/quote.h"

namespace berth::cli {

absl::Status ApplyEventsSince(std::string_view text, absl::Time now, v1::SubscribeRequest& request) {
  if (text.empty()) return absl::InvalidArgumentError("--since needs a sequence number or a time");
  uint64_t sequence = 0;
  if (std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &sequence)) {
      return absl::InvalidArgumentError(absl::StrCat("--since ", Quoted(absl::string_view(text.data(), text.size())),
                                                     ": sequence number too large"));
    }
    request.set_since_sequence(sequence);
    return absl::OkStatus();
  }
  absl::StatusOr<absl::Time> time = ParseSince(text, now);
  if (!time.ok()) return time.status();
  *request.mutable_since_time() = TimeToProto(*time);
  return absl::OkStatus();
}

absl::Status AddEventFilter(std::string_view filter, v1::EventFilter& into) {
  size_t eq = filter.find('=');
  const absl::string_view whole(filter.data(), filter.size());
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == filter.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--filter ", Quoted(whole), ": want key=value (type, id, name, label)"));
  }
  std::string key(filter.substr(0, eq));
  std::string value(filter.substr(eq + 1));
  if (key == "type") {
    into.add_types(value);
  } else if (key == "id" || key == "container") {
    into.add_ids(value);
  } else if (key == "name") {
    into.add_names(value);
  } else if (key == "label") {
    into.add_labels(value);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--filter ", Quoted(whole), ": unknown key ", Quoted(key), "; use type, id, name or label"));
  }
  return absl::OkStatus();
}

std::string FormatEventLine(const v1::Event& event) {
  std::string kind = event.type(), action;
  if (size_t dot = kind.find('.'); dot != std::string::npos) {
    action = kind.substr(dot + 1);
    kind.resize(dot);
  }
  std::map<std::string, std::string> attributes(event.attributes().begin(), event.attributes().end());
  for (const auto& [k, v] : event.labels()) attributes.emplace(k, v);
  if (!event.name().empty()) attributes["name"] = event.name();
  if (event.type() == "container.exit" || event.type() == "exec.exit") {
    attributes["exit_code"] = std::to_string(event.exit_code());
  }
  if (event.oom_killed()) attributes["oom_killed"] = "true";
  if (!event.health_status().empty()) attributes["health_status"] = event.health_status();
  if (!event.exec_id().empty()) attributes["exec_id"] = event.exec_id();
  attributes["seq"] = std::to_string(event.sequence());
  std::string line = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", TimeFromProto(event.time()), absl::UTCTimeZone()),
                                  " ", kind, " ", action);
  if (!event.id().empty()) absl::StrAppend(&line, " ", event.id());
  absl::StrAppend(&line, " (", absl::StrJoin(attributes, ", ", absl::PairFormatter("=")), ")\n");
  return line;
}

}  // namespace berth::cli
