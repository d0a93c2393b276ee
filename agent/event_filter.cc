#include "agent/event_filter.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/quote.h"

namespace berth::agent {
namespace {

constexpr size_t kMaxValues = 64;
constexpr size_t kMaxValueBytes = 512;

const std::vector<std::string>& Kinds() {
  static const auto* kinds = new std::vector<std::string>{"container", "exec", "image", "network", "agent"};
  return *kinds;
}

bool KnownType(const std::string& type) {
  const auto& kinds = Kinds();
  const auto& types = KnownEventTypes();
  return std::find(kinds.begin(), kinds.end(), type) != kinds.end() ||
         std::find(types.begin(), types.end(), type) != types.end();
}

absl::Status CheckValues(const google::protobuf::RepeatedPtrField<std::string>& values, const char* key) {
  if (values.size() > static_cast<int>(kMaxValues)) {
    return absl::InvalidArgumentError(absl::StrCat("event filter: at most ", kMaxValues, " ", key, " values, got ",
                                                   values.size()));
  }
  for (const std::string& v : values) {
    if (v.empty()) return absl::InvalidArgumentError(absl::StrCat("event filter: an empty ", key, " value"));
    if (v.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat("event filter: ", key, " value ", Quoted(v), " is longer than ",
                                                     kMaxValueBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& KnownEventTypes() {
  static const auto* types = new std::vector<std::string>{
      "container.create", "container.start",  "container.exit",   "container.stop",
      "container.kill",   "container.pause",  "container.resume", "container.remove",
      "container.restart", "container.rename", "container.health_status", "exec.start", "exec.exit",
      "image.pull",       "image.tag",        "image.remove",     "image.import",
      "network.create",   "network.remove",   "agent.start",      "agent.recovery"};
  return *types;
}

absl::StatusOr<EventMatcher> EventMatcher::From(const v1::EventFilter& filter) {
  for (auto [values, key] : {std::pair{&filter.types(), "type"}, {&filter.ids(), "id"}, {&filter.names(), "name"},
                             {&filter.labels(), "label"}}) {
    if (absl::Status st = CheckValues(*values, key); !st.ok()) return st;
  }
  EventMatcher m;
  for (const std::string& t : filter.types()) {
    if (!KnownType(t)) {
      return absl::InvalidArgumentError(absl::StrCat("event filter: unknown type ", Quoted(t), "; use a kind (",
                                                     absl::StrJoin(Kinds(), ", "), ") or a type such as container.exit"));
    }
    m.types_.push_back(t);
  }
  m.ids_.assign(filter.ids().begin(), filter.ids().end());
  m.names_.assign(filter.names().begin(), filter.names().end());
  for (const std::string& l : filter.labels()) {
    size_t eq = l.find('=');
    if (eq == 0) return absl::InvalidArgumentError(absl::StrCat("event filter: label ", Quoted(l), " has no key"));
    if (eq == std::string::npos) {
      m.labels_.emplace_back(l, std::nullopt);
    } else {
      m.labels_.emplace_back(l.substr(0, eq), l.substr(eq + 1));
    }
  }
  return m;
}

bool EventMatcher::Matches(const v1::Event& event) const {
  auto any = [](const auto& values, const auto& pred) {
    return values.empty() || std::any_of(values.begin(), values.end(), pred);
  };
  const std::string& type = event.type();
  if (!any(types_, [&](const std::string& t) { return type == t || (absl::StartsWith(type, t) && type.size() > t.size() && type[t.size()] == '.'); })) {
    return false;
  }
  if (!any(ids_, [&](const std::string& id) { return !event.id().empty() && absl::StartsWith(event.id(), id); })) {
    return false;
  }
  if (!any(names_, [&](const std::string& n) { return event.name() == n; })) return false;
  for (const auto& [key, value] : labels_) {  // every label given must be there
    auto it = event.labels().find(key);
    if (it == event.labels().end() || (value && it->second != *value)) return false;
  }
  return true;
}

}  // namespace berth::agent
