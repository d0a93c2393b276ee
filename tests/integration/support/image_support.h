// The Images service and System.DiskUsage of a harness's agent as plain calls, and a look at
// what the image store keeps on disk (<root>/images/...), for the image integration tests.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/images.grpc.pb.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/oci_builder.h"

namespace berth::testing {

struct PullResult {
  absl::Status status;
  std::vector<v1::LayerProgress> events;
  v1::Image image;
  bool got_image = false;
};

// Images.Pull until the stream ends; `on_event` sees every progress message as it comes.
PullResult PullImage(AgentHarness& agent, const std::string& reference,
                     const std::function<void(const v1::LayerProgress&)>& on_event = nullptr,
                     int timeout_seconds = 120);
// Images.Import of the archive's bytes (sent in 256 KiB chunks).
absl::StatusOr<std::vector<v1::Image>> ImportImages(AgentHarness& agent, const std::string& archive);
// Images.Export: the OCI layout tar's bytes.
absl::StatusOr<std::string> ExportImages(AgentHarness& agent, const std::vector<std::string>& references);
absl::StatusOr<v1::Image> InspectImage(AgentHarness& agent, const std::string& reference);
absl::StatusOr<std::vector<v1::Image>> ListImages(AgentHarness& agent);
absl::StatusOr<v1::RemoveImageResponse> RemoveImage(AgentHarness& agent, const std::string& reference,
                                                    bool force = false);
absl::StatusOr<v1::Image> TagImage(AgentHarness& agent, const std::string& source, const std::string& target);
// dangling_only: only unnamed (<none>) images, as `image prune` without -a.
absl::StatusOr<v1::PruneImagesResponse> PruneImages(AgentHarness& agent, bool dangling_only = false);
absl::StatusOr<v1::DiskUsageResponse> DiskUsage(AgentHarness& agent);

// The default busybox image as the agent exports it (config, manifest and layer bytes).
absl::StatusOr<Image> ExportedBusybox(AgentHarness& agent);
// Busybox plus one layer made of `items` (gzip), the config edited by `edit` before sealing.
Image DerivedImage(const Image& base, const std::vector<TarItem>& items,
                   const std::function<void(nlohmann::json& config)>& edit = nullptr);

// On disk, under the agent's root:
std::set<std::string> LayerDirs(const std::string& root);      // images/layers/* but dot names
std::set<std::string> HiddenLayerDirs(const std::string& root);  // images/layers/.* (interrupted unpacks)
std::set<std::string> ContentBlobs(const std::string& root);   // "sha256:<hex>" in images/content/blobs
std::vector<std::string> IngestFiles(const std::string& root);  // images/content/ingest/*
bool HasBlob(const std::string& root, const std::string& digest);
std::string RefsJson(const std::string& root);                 // images/refs.json as text
// The dev.berth.overlay.lowerdir annotation of a container's bundle: its lower dirs, topmost
// first, as the overlay mount gets them.
std::vector<std::string> OverlayLowerDirs(const std::string& root, const std::string& container_id);

// A config running `args` from `image`.
v1::ContainerConfig FromImage(const std::string& image, const std::vector<std::string>& args = {});

}  // namespace berth::testing
