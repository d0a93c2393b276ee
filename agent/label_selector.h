// Label selectors as List calls take them: "k=v,k2!=v2,k3" (every term must hold: equal, not
// equal or absent, present).
#pragma once

#include <functional>
#include <string>

#include <google/protobuf/map.h>

#include "absl/status/statusor.h"

namespace berth::agent {

using Labels = google::protobuf::Map<std::string, std::string>;
using LabelMatcher = std::function<bool(const Labels&)>;

// INVALID_ARGUMENT for a term without a key. An empty selector matches everything.
absl::StatusOr<LabelMatcher> ParseLabelSelector(const std::string& selector);

}  // namespace berth::agent
