// The rows a --format template of `ps`, `images` and `network ls` reads: docker's field names,
// the values their tables print (same helpers), and the header each field has in a
// `table ...` format (a field not named here is headed by its name upper-cased).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "berth/v1/containers.pb.h"
#include "berth/v1/images.pb.h"
#include "berth/v1/networks.pb.h"
#include "cli/ps_table.h"

namespace berth::cli {

using FieldHeaders = std::map<std::string, std::string, std::less<>>;

// .ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Names .Labels (k=v,...)
// .LabelsMap (for index) .Mounts .Networks, and .Node with `with_node` (ps --all-nodes).
nlohmann::json PsRowView(const PsEntry& entry, bool with_node, bool no_trunc, absl::Time now);
const FieldHeaders& PsHeaders();

// .ID .Repository .Tag .Digest .CreatedSince .CreatedAt .Size, one row per line of the table.
std::vector<nlohmann::json> ImageRowViews(const std::vector<berth::v1::Image>& images, bool no_trunc,
                                          absl::Time now);
const FieldHeaders& ImageHeaders();

// .ID .Name .Driver .Scope .IPv6 .Internal .Labels .CreatedAt, and the table's .Subnet
// .Gateway .Bridge.
nlohmann::json NetworkRowView(const berth::v1::Network& network, bool no_trunc);
const FieldHeaders& NetworkHeaders();

// Go's time.Time printing, as docker's CreatedAt: "2024-01-02 03:04:05 +0000 UTC" in the local
// zone, a fraction of a second only when there is one.
std::string GoTimeText(absl::Time t);

}  // namespace berth::cli
