// The `ps` table: docker's columns (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS,
// NAMES), with a first NODE column when listing every node of a cluster. PORTS shows the
// published ports of running and paused containers only.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "berth/v1/containers.pb.h"

namespace berth::cli {

struct PsEntry {
  std::string node;  // "" outside --all-nodes
  const berth::v1::Container* container = nullptr;
};

// Header first; rows in the given order. `with_node` adds the NODE column.
std::vector<std::vector<std::string>> PsTableRows(const std::vector<PsEntry>& entries,
                                                  bool with_node, bool no_trunc, absl::Time now);

// The PORTS cell: the published ports while the container runs or is paused, else "".
std::string PublishedWhileUp(const berth::v1::Container& c);

// Newest first (docker's order), stable for equal times.
void SortNewestFirst(std::vector<const berth::v1::Container*>& containers);

}  // namespace berth::cli
