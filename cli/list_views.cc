#include "cli/list_views.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/human_format.h"
#include "cli/image_format.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;
using json = nlohmann::json;

// docker ps cuts each mount's name to this many characters unless --no-trunc.
constexpr size_t kMountNameWidth = 15;

bool HasTime(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

// "a=1,b=2", by key, and the same as an object.
template <typename Map>
std::pair<std::string, json> Labels(const Map& labels) {
  std::vector<std::pair<std::string, std::string>> sorted(labels.begin(), labels.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> pairs;
  json object = json::object();
  for (const auto& [k, v] : sorted) {
    pairs.push_back(k + "=" + v);
    object[k] = v;
  }
  return {absl::StrJoin(pairs, ","), std::move(object)};
}

std::string NetworksText(const v1::Container& c) {
  const v1::NetworkSettings& ns = c.network_settings();
  if (!ns.network().empty()) return ns.network();
  if (ns.mode() == "host" || ns.mode() == "none") return ns.mode();
  return "";
}

std::string MountsText(const v1::Container& c, bool no_trunc) {
  std::vector<std::string> names;
  for (const v1::Mount& m : c.config().mounts()) {
    names.push_back(no_trunc ? m.source() : Ellipsis(m.source(), kMountNameWidth));
  }
  return absl::StrJoin(names, ",");
}

}  // namespace

std::string GoTimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E*S %z %Z", t, absl::LocalTimeZone());
}

json PsRowView(const PsEntry& entry, bool with_node, bool no_trunc, absl::Time now) {
  const v1::Container& c = *entry.container;
  auto [labels, labels_map] = Labels(c.labels());
  json row = {
      {"ID", no_trunc ? c.id() : ShortId(c.id())},
      {"Image", c.image()},
      {"Command", CommandText(c, /*truncate=*/!no_trunc)},
      // docker prints the creation time to the second.
      {"CreatedAt", HasTime(c.created_at()) ? GoTimeText(absl::FromUnixSeconds(c.created_at().seconds())) : ""},
      {"RunningFor", CreatedText(c, now)},
      {"Ports", PublishedWhileUp(c)},
      {"State", StateWord(c.state())},
      {"Status", StatusText(c, now)},
      {"Names", c.name()},
      {"Labels", std::move(labels)},
      {"LabelsMap", std::move(labels_map)},
      {"Mounts", MountsText(c, no_trunc)},
      {"Networks", NetworksText(c)},
  };
  if (with_node) row["Node"] = entry.node;
  return row;
}

const FieldHeaders& PsHeaders() {
  static const auto* headers = new FieldHeaders{
      {"ID", "CONTAINER ID"}, {"CreatedAt", "CREATED AT"}, {"RunningFor", "CREATED"}, {"LabelsMap", "LABELS"}};
  return *headers;
}

std::vector<json> ImageRowViews(const std::vector<v1::Image>& images, bool no_trunc, absl::Time now) {
  std::vector<json> rows;
  for (const ImageListing& l : ImageListings(images, no_trunc, now)) {
    const v1::Image& image = *l.image;
    rows.push_back({
        {"ID", l.id},
        {"Repository", l.repository},
        {"Tag", l.tag},
        {"Digest", image.manifest_digest().empty() ? std::string("<none>") : image.manifest_digest()},
        {"CreatedSince", l.created},
        {"CreatedAt",
         HasTime(image.created_at()) ? GoTimeText(absl::FromUnixSeconds(image.created_at().seconds())) : "N/A"},
        {"Size", l.size},
    });
  }
  return rows;
}

const FieldHeaders& ImageHeaders() {
  static const auto* headers =
      new FieldHeaders{{"ID", "IMAGE ID"}, {"CreatedSince", "CREATED"}, {"CreatedAt", "CREATED AT"}};
  return *headers;
}

json NetworkRowView(const v1::Network& n, bool no_trunc) {
  return {
      {"ID", no_trunc ? n.id() : ShortId(n.id())},
      {"Name", n.name()},
      {"Driver", n.driver()},
      {"Scope", "local"},
      // Berth's networks always have a way out (masquerade or routes): never internal.
      {"IPv6", n.ipv6()},
      {"Internal", false},
      {"Labels", Labels(n.labels()).first},
      {"CreatedAt", HasTime(n.created_at()) ? GoTimeText(TimeFromProto(n.created_at())) : ""},
      {"Subnet", n.subnet()},
      {"Gateway", n.gateway()},
      {"Bridge", n.bridge()},
  };
}

const FieldHeaders& NetworkHeaders() {
  static const auto* headers = new FieldHeaders{{"ID", "NETWORK ID"}, {"CreatedAt", "CREATED AT"}};
  return *headers;
}

}  // namespace berth::cli
