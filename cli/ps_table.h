// The `ps` table: docker's columns (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS,
// NAMES), with a first NODE column when listing every node of a cluster. PORTS shows the
// published ports of running and paused containers only.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "berth/v1/containers.pb.h"
#include "cli/terminal_style.h"

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

// The colour of a STATUS cell: green while up, yellow paused or starting its health checks,
// red when unhealthy or exited non-zero, none otherwise (created, exited 0).
Colour StatusColour(const berth::v1::Container& c);

// The column of STATUS in PsTableRows.
inline size_t PsStatusColumn(bool with_node) { return with_node ? 5 : 4; }

// Newest first (docker's order), stable for equal times.
void SortNewestFirst(std::vector<const berth::v1::Container*>& containers);

}  // namespace berth::cli
