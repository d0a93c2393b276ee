// `berth events`: its flags turned into a SubscribeRequest, and an event as one line of text
// (Docker's shape: time, kind, action, id, then the attributes in parentheses).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "berth/v1/events.pb.h"

namespace berth::cli {

// "--since": digits are a sequence number (resume after it); anything else a time, as RFC
// 3339 or a duration ago ("10m").
absl::Status ApplyEventsSince(std::string_view text, absl::Time now, v1::SubscribeRequest& request);

// "--filter key=value": type, id (or container), name, label (key or key=value).
absl::Status AddEventFilter(std::string_view filter, v1::EventFilter& into);

// 2026-12-02T15:04:05.123456789Z container exit 3f2a... (exit_code=3, image=busybox, name=web, seq=12)
std::string FormatEventLine(const v1::Event& event);

}  // namespace berth::cli
