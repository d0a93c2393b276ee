// A subscriber's EventFilter, checked once and then matched against each event: values of
// one key are alternatives, different keys must all match (Docker's rule).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/v1/events.pb.h"

namespace berth::agent {

class EventMatcher {
 public:
  // INVALID_ARGUMENT, naming the value, for an unknown type, an empty value, a label
  // without a key, or more values than a filter may hold.
  static absl::StatusOr<EventMatcher> From(const v1::EventFilter& filter);

  bool Matches(const v1::Event& event) const;

 private:
  std::vector<std::string> types_;
  std::vector<std::string> ids_;
  std::vector<std::string> names_;
  std::vector<std::pair<std::string, std::optional<std::string>>> labels_;
};

// The event types Berth emits ("container.exit", ...), for checks and help text.
const std::vector<std::string>& KnownEventTypes();

}  // namespace berth::agent
