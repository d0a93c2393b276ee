// The JSON documents of OCI images and Docker schema 2: image manifest, image index /
// manifest list, image config. Parsing checks what Berth relies on and names what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::image {

inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kOciLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kOciLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kOciLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayerGzip[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";

bool IsManifestType(absl::string_view media_type);
bool IsIndexType(absl::string_view media_type);
bool IsLayerType(absl::string_view media_type);  // any of the layer types above (not foreign/nondistributable)

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  Platform platform;  // index entries only
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// `media_type`: from the registry's Content-Type (may be empty: then the document's own
// mediaType field decides). INVALID_ARGUMENT for a document that is not one.
absl::StatusOr<Manifest> ParseManifest(absl::string_view json, absl::string_view media_type = "");
absl::StatusOr<Index> ParseIndex(absl::string_view json, absl::string_view media_type = "");
// The media type a document declares (mediaType field), or guessed from its shape
// ("manifests" → index, "layers" → manifest) when absent.
std::string DetectMediaType(absl::string_view json);

// The entry for os/architecture (variant ignored unless given). NOT_FOUND listing the
// platforms the index has.
absl::StatusOr<Descriptor> SelectPlatform(const Index& index, const std::string& os = "linux",
                                          const std::string& architecture = "amd64");

// Docker's HEALTHCHECK as an image config carries it (durations in ns; 0: unset).
struct ImageHealthcheck {
  std::vector<std::string> test;  // ["CMD", ...], ["CMD-SHELL", cmd] or ["NONE"]
  int64_t interval_ns = 0;
  int64_t timeout_ns = 0;
  int64_t start_period_ns = 0;
  int retries = 0;
};

struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
  ImageHealthcheck healthcheck;
  std::string stop_signal;  // Docker's StopSignal ("SIGQUIT", "QUIT", "3")
};

struct ConfigFile {
  std::string os;
  std::string architecture;
  std::string created;  // RFC 3339 as given
  ImageConfig config;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids, one per layer, lowest first
};
absl::StatusOr<ConfigFile> ParseConfig(absl::string_view json);

// OCI chain ids: chain[0] = diff_ids[0]; chain[n] = sha256(chain[n-1] + " " + diff_ids[n]).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace berth::image
