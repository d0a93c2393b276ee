// How images read in a terminal: references in Docker's short ("familiar") form, the
// `images` table, image ids and digests cut to 12 hex digits, and the `system df` table.
// Pure string work over berth.v1 messages; the agent's own reference parser is not linked
// (cli/ talks to berthd over berth.v1 only).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "berth/v1/containers.pb.h"
#include "berth/v1/images.pb.h"

namespace berth::cli {

// "sha256:3f2a…" -> "3f2a…" (12 hex digits); a text without "algo:" is cut as it is.
std::string ShortDigest(std::string_view digest);

// Docker's familiar form of what a user typed: "busybox" -> "busybox:latest",
// "docker.io/library/busybox:1" -> "busybox:1", "docker.io/me/app" -> "me/app:latest",
// "127.0.0.1:5000/a/b" -> "127.0.0.1:5000/a/b:latest", "repo@sha256:…" keeps its digest and
// gets no tag. Not a validator: the agent judges the reference.
std::string FamiliarReference(std::string_view reference);

// A familiar name split into REPOSITORY and TAG: "busybox:latest" -> {"busybox", "latest"},
// "host:5000/a/b:v1" -> {"host:5000/a/b", "v1"}, "a@sha256:…" -> {"a", "<none>"}.
std::pair<std::string, std::string> SplitRepositoryTag(std::string_view familiar);

// One line of `images`: an image under one of its names, its cells as the table shows them.
struct ImageListing {
  const berth::v1::Image* image = nullptr;
  std::string repository;
  std::string tag;
  std::string id;       // IMAGE ID
  std::string created;  // CREATED: "5 days ago", "N/A"
  std::string size;     // SIZE: "4.3MB"
};

// The lines of `images`: one per name of each image (an image without names is "<none>
// <none>"), newest image first, then by name. IMAGE ID is the id's 12 hex digits (all 64 with
// `no_trunc`, with "sha256:").
std::vector<ImageListing> ImageListings(const std::vector<berth::v1::Image>& images, bool no_trunc,
                                        absl::Time now);

// The `images` table: REPOSITORY TAG IMAGE ID CREATED SIZE, header first, then ImageListings.
std::vector<std::vector<std::string>> ImageTableRows(const std::vector<berth::v1::Image>& images,
                                                     bool no_trunc, absl::Time now);

// `images -q`: each image id once, in table order.
std::vector<std::string> ImageIds(const std::vector<berth::v1::Image>& images, bool no_trunc);

// "Untagged: busybox:latest" / "Deleted: sha256:…" lines of `image rm` and `image prune`.
std::string RemovedImagesText(const berth::v1::RemoveImageResponse& response);

// The `system df` table: TYPE TOTAL SIZE RECLAIMABLE, rows Images (content store), Layers
// (unpacked layer dirs) and Containers (writable layers and logs). What `image prune` would
// free covers blobs and layers together, so it shows on the Images row as a share of both.
std::vector<std::vector<std::string>> DiskUsageRows(const berth::v1::DiskUsageResponse& usage);

}  // namespace berth::cli
