#include "cli/ps_filters.h"

#include "absl/status/status.h"

namespace berth::cli {

absl::StatusOr<PsQuery> BuildPsQuery(bool all, const std::vector<std::string>& filters) {
  PsQuery query;
  std::string selector;
  bool status_filter = false;
  for (const std::string& filter : filters) {
    const size_t eq = filter.find('=');
    if (eq == std::string::npos || eq + 1 == filter.size()) {
      return absl::InvalidArgumentError("invalid filter '" + filter + "': expected KEY=VALUE");
    }
    const std::string key = filter.substr(0, eq);
    const std::string value = filter.substr(eq + 1);
    if (key == "label") {
      if (value.find(',') != std::string::npos) {
        return absl::InvalidArgumentError("invalid filter '" + filter +
                                          "': use one --filter per label");
      }
      if (!selector.empty()) selector += ',';
      selector += value;
    } else if (key == "status") {
      berth::v1::ContainerState state;
      if (value == "created") {
        state = berth::v1::CREATED;
      } else if (value == "running") {
        state = berth::v1::RUNNING;
      } else if (value == "paused") {
        state = berth::v1::PAUSED;
      } else if (value == "exited") {
        state = berth::v1::EXITED;
      } else {
        return absl::InvalidArgumentError("invalid filter '" + filter +
                                          "': status is created, running, paused or exited");
      }
      query.request.add_states(state);
      status_filter = true;
    } else if (key == "name") {
      query.name_substrings.push_back(value);
    } else if (key == "id") {
      query.id_prefixes.push_back(value);
    } else {
      return absl::InvalidArgumentError("invalid filter '" + filter +
                                        "': known keys are label, status, name and id");
    }
  }
  query.request.set_label_selector(selector);
  if (!all && !status_filter) {
    query.request.add_states(berth::v1::RUNNING);
    query.request.add_states(berth::v1::PAUSED);
  }
  return query;
}

bool MatchesClientFilters(const PsQuery& query, const berth::v1::Container& container) {
  if (!query.name_substrings.empty()) {
    bool any = false;
    for (const std::string& s : query.name_substrings) {
      any = any || container.name().find(s) != std::string::npos;
    }
    if (!any) return false;
  }
  if (!query.id_prefixes.empty()) {
    bool any = false;
    for (const std::string& p : query.id_prefixes) {
      any = any || container.id().rfind(p, 0) == 0;
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace berth::cli
