#include "cli/network_table.h"

#include <algorithm>

#include "cli/human_format.h"

namespace berth::cli {

void SortByName(std::vector<const berth::v1::Network*>& networks) {
  std::stable_sort(networks.begin(), networks.end(),
                   [](const auto* a, const auto* b) { return a->name() < b->name(); });
}

std::vector<std::vector<std::string>> NetworkTableRows(
    const std::vector<const berth::v1::Network*>& networks, bool no_trunc) {
  std::vector<const berth::v1::Network*> sorted = networks;
  SortByName(sorted);
  std::vector<std::vector<std::string>> rows = {
      {"NETWORK ID", "NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE"}};
  for (const berth::v1::Network* n : sorted) {
    rows.push_back({no_trunc ? n->id() : ShortId(n->id()), n->name(), n->driver(), n->subnet(),
                    n->gateway(), n->bridge()});
  }
  return rows;
}

}  // namespace berth::cli
