#include "cli/image_format.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/human_format.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

constexpr std::string_view kNone = "<none>";
constexpr std::string_view kDockerHub = "docker.io";

bool HasTime(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

// "12.3MB (45%)"; the share is left out when there is nothing to share.
std::string WithShare(int64_t part, int64_t whole) {
  std::string out = HumanSize(part);
  if (whole > 0) {
    const int64_t percent = std::clamp<int64_t>((part * 100 + whole / 2) / whole, 0, 100);
    absl::StrAppend(&out, " (", percent, "%)");
  }
  return out;
}

}  // namespace

std::string ShortDigest(std::string_view digest) {
  if (size_t colon = digest.find(':'); colon != std::string_view::npos) digest.remove_prefix(colon + 1);
  return std::string(digest.substr(0, kShortIdLength));
}

std::string FamiliarReference(std::string_view reference) {
  std::string_view rest = reference;
  std::string_view digest;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  std::string_view tag;
  const size_t last_slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  std::string_view domain;
  std::string_view path = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
      domain = first;
      path = rest.substr(slash + 1);
    }
  }
  std::string out;
  if (domain.empty() || domain == kDockerHub || domain == "index.docker.io") {
    // Only official images lose "library/": "library/a/b" keeps it.
    if (path.substr(0, 8) == "library/" && path.find('/', 8) == std::string_view::npos) {
      path.remove_prefix(8);
    }
    out = std::string(path);
  } else {
    out = std::string(domain) + "/" + std::string(path);
  }
  if (tag.empty() && digest.empty()) tag = "latest";
  if (!tag.empty()) out += ":" + std::string(tag);
  if (!digest.empty()) out += "@" + std::string(digest);
  return out;
}

std::pair<std::string, std::string> SplitRepositoryTag(std::string_view familiar) {
  std::string_view name = familiar;
  if (size_t at = name.find('@'); at != std::string_view::npos) name = name.substr(0, at);
  const size_t last_slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    return {std::string(name.substr(0, colon)), std::string(name.substr(colon + 1))};
  }
  return {std::string(name), std::string(kNone)};
}

namespace {

// The images in table order: newest first, then by first name, then by id.
std::vector<const v1::Image*> TableOrder(const std::vector<v1::Image>& images) {
  std::vector<const v1::Image*> order;
  for (const v1::Image& image : images) order.push_back(&image);
  std::stable_sort(order.begin(), order.end(), [](const v1::Image* a, const v1::Image* b) {
    const absl::Time ta = TimeFromProto(a->created_at());
    const absl::Time tb = TimeFromProto(b->created_at());
    if (ta != tb) return ta > tb;
    const std::string na = a->names().empty() ? "" : a->names(0);
    const std::string nb = b->names().empty() ? "" : b->names(0);
    if (na != nb) return na < nb;
    return a->id() < b->id();
  });
  return order;
}

std::string ImageIdText(const v1::Image& image, bool no_trunc) {
  return no_trunc ? image.id() : ShortDigest(image.id());
}

}  // namespace

std::vector<ImageListing> ImageListings(const std::vector<v1::Image>& images, bool no_trunc, absl::Time now) {
  std::vector<ImageListing> listings;
  for (const v1::Image* image : TableOrder(images)) {
    const std::string created =
        HasTime(image->created_at())
            ? absl::StrCat(HumanDuration(now - TimeFromProto(image->created_at())), " ago")
            : "N/A";
    std::vector<std::string> names(image->names().begin(), image->names().end());
    std::sort(names.begin(), names.end());
    if (names.empty()) names.push_back("");
    for (const std::string& name : names) {
      auto [repository, tag] =
          name.empty() ? std::pair(std::string(kNone), std::string(kNone)) : SplitRepositoryTag(name);
      listings.push_back({image, repository, tag, ImageIdText(*image, no_trunc), created, HumanSize(image->size())});
    }
  }
  return listings;
}

std::vector<std::vector<std::string>> ImageTableRows(const std::vector<v1::Image>& images, bool no_trunc,
                                                     absl::Time now) {
  std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
  for (const ImageListing& l : ImageListings(images, no_trunc, now)) {
    rows.push_back({l.repository, l.tag, l.id, l.created, l.size});
  }
  return rows;
}

std::vector<std::string> ImageIds(const std::vector<v1::Image>& images, bool no_trunc) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const v1::Image* image : TableOrder(images)) {
    if (seen.insert(image->id()).second) ids.push_back(ImageIdText(*image, no_trunc));
  }
  return ids;
}

std::string RemovedImagesText(const v1::RemoveImageResponse& response) {
  std::string out;
  for (const std::string& name : response.untagged()) absl::StrAppend(&out, "Untagged: ", name, "\n");
  for (const std::string& id : response.deleted()) absl::StrAppend(&out, "Deleted: ", id, "\n");
  return out;
}

std::vector<std::vector<std::string>> DiskUsageRows(const v1::DiskUsageResponse& usage) {
  const int64_t image_bytes = usage.images_size() + usage.layers_size();
  return {
      {"TYPE", "TOTAL", "SIZE", "RECLAIMABLE"},
      {"Images", absl::StrCat(usage.images()), HumanSize(usage.images_size()),
       WithShare(usage.reclaimable_size(), image_bytes)},
      {"Layers", absl::StrCat(usage.layers()), HumanSize(usage.layers_size()), "-"},
      {"Containers", absl::StrCat(usage.containers()), HumanSize(usage.containers_size()), "-"},
      {"Local Volumes", absl::StrCat(usage.volumes()), HumanSize(usage.volumes_size()),
       WithShare(usage.volumes_reclaimable_size(), usage.volumes_size())},
  };
}

}  // namespace berth::cli
