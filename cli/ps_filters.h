// `ps -a` and `ps --filter` -> a ListRequest plus the filters the agent does not do (name, id).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"

namespace berth::cli {

struct PsQuery {
  berth::v1::ListRequest request;
  std::vector<std::string> name_substrings;  // any may match
  std::vector<std::string> id_prefixes;      // any may match
};

// Filters: "label=k=v", "label=k", "label=k!=v" (all must match), "status=created|running|
// paused|exited" (any may match; shows those states even without -a), "name=SUBSTRING",
// "id=PREFIX". Without -a and without a status filter only running and paused containers.
absl::StatusOr<PsQuery> BuildPsQuery(bool all, const std::vector<std::string>& filters);

// The name/id filters, applied to what the agent returned.
bool MatchesClientFilters(const PsQuery& query, const berth::v1::Container& container);

}  // namespace berth::cli
