// The `network ls` table: NETWORK ID (12 characters unless --no-trunc), NAME, DRIVER, SUBNET,
// GATEWAY, BRIDGE, sorted by name.
#pragma once

#include <string>
#include <vector>

#include "berth/v1/networks.pb.h"

namespace berth::cli {

// Header first, then one row per network, by name.
std::vector<std::vector<std::string>> NetworkTableRows(
    const std::vector<const berth::v1::Network*>& networks, bool no_trunc);

// By name, as docker lists them.
void SortByName(std::vector<const berth::v1::Network*>& networks);

}  // namespace berth::cli
