#include "cli/ps_table.h"

#include <algorithm>

#include "cli/human_format.h"
#include "cli/network_flags.h"

namespace berth::cli {
// Like docker, ports show while the container runs (or is paused): an exited container's
// mappings are no longer set up.
std::string PublishedWhileUp(const berth::v1::Container& c) {
  if (c.state() != berth::v1::RUNNING && c.state() != berth::v1::PAUSED) return "";
  return PortsText(c);
}

std::vector<std::vector<std::string>> PsTableRows(const std::vector<PsEntry>& entries,
                                                  bool with_node, bool no_trunc, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
                                     "STATUS",       "PORTS", "NAMES"};
  if (with_node) header.insert(header.begin(), "NODE");
  rows.push_back(std::move(header));
  for (const PsEntry& entry : entries) {
    const berth::v1::Container& c = *entry.container;
    std::vector<std::string> row = {no_trunc ? c.id() : ShortId(c.id()),
                                    c.image(),
                                    CommandText(c, /*truncate=*/!no_trunc),
                                    CreatedText(c, now),
                                    StatusText(c, now),
                                    PublishedWhileUp(c),
                                    c.name()};
    if (with_node) row.insert(row.begin(), entry.node);
    rows.push_back(std::move(row));
  }
  return rows;
}

Colour StatusColour(const berth::v1::Container& c) {
  switch (c.state()) {
    case berth::v1::RUNNING:
      if (c.health().status() == "unhealthy") return Colour::kRed;
      if (c.health().status() == "starting") return Colour::kYellow;
      return Colour::kGreen;
    case berth::v1::PAUSED:
      return Colour::kYellow;
    case berth::v1::EXITED:
      return c.exit_code() == 0 ? Colour::kNone : Colour::kRed;
    default:
      return Colour::kNone;
  }
}

void SortNewestFirst(std::vector<const berth::v1::Container*>& containers) {
  std::stable_sort(containers.begin(), containers.end(), [](const auto* a, const auto* b) {
    return TimeFromProto(a->created_at()) > TimeFromProto(b->created_at());
  });
}

}  // namespace berth::cli
