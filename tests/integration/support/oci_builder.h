// Test images made by hand, byte for byte: layer tars (libarchive, so a test can write what
// no well-behaved tool would: "../" names, symlinks leading out, whiteouts), image configs and
// manifests (nlohmann-json), multi-platform indexes, and the two archive formats the agent
// imports (an OCI image layout tar, a `docker save` tar). Nothing here talks to the agent or
// uses its code: the images are built the way a registry or another engine would.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace berth::testing {

inline constexpr char kOciManifestType[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndexType[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciConfigType[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kOciLayerType[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kOciLayerGzipType[] = "application/vnd.oci.image.layer.v1.tar+gzip";

// "sha256:<hex>" of the bytes.
std::string Sha256Digest(std::string_view data);
// The hex part of a digest.
std::string DigestHex(std::string_view digest);

struct TarItem {
  enum class Type { kFile, kDir, kSymlink, kHardlink, kBlockDevice };
  std::string path;     // as written in the archive, unchecked
  Type type = Type::kFile;
  std::string data;     // a file's content; a link's target; a device's "major:minor"
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
};
TarItem File(std::string path, std::string data, mode_t mode = 0644);
TarItem Dir(std::string path, mode_t mode = 0755);
TarItem Symlink(std::string path, std::string target);
TarItem Hardlink(std::string path, std::string target);
TarItem BlockDevice(std::string path, unsigned major, unsigned minor);

// A pax tar of the items, in order (no end-of-archive surprises: libarchive's writer).
std::string MakeTar(const std::vector<TarItem>& items);
// gzip of the bytes (libarchive's raw format with its gzip filter).
std::string Gzip(std::string_view data);
// Every regular file of a tar (optionally gzip-compressed), by path.
absl::StatusOr<std::map<std::string, std::string>> ReadTarFiles(std::string_view archive);

struct Layer {
  std::string tar;         // uncompressed: its digest is the diff_id
  std::string blob;        // as stored and shipped (gzip or the tar itself)
  std::string media_type;
  std::string digest() const { return Sha256Digest(blob); }
  std::string diff_id() const { return Sha256Digest(tar); }
};
Layer MakeLayer(const std::vector<TarItem>& items, bool gzip = true);
// A layer from a blob that already exists (gzip recognised by its magic).
absl::StatusOr<Layer> LayerFromBlob(std::string blob, std::string media_type);

// An image: config (its rootfs.diff_ids follow `layers`) and an OCI manifest.
struct Image {
  nlohmann::json config;
  std::vector<Layer> layers;
  // Filled by Seal(): the exact bytes shipped.
  std::string config_bytes;
  std::string manifest_bytes;
  std::string config_digest() const { return Sha256Digest(config_bytes); }
  std::string manifest_digest() const { return Sha256Digest(manifest_bytes); }
  // Serialises config and manifest after any change to `config` or `layers`.
  void Seal();
  // A copy with one more layer on top (and the config edited by the caller afterwards).
  Image With(const Layer& layer) const;
};

// A multi-platform index of sealed images, each with its platform.
struct IndexEntry {
  const Image* image = nullptr;
  std::string os = "linux";
  std::string architecture;
};
// The index document's bytes.
std::string MakeIndex(const std::vector<IndexEntry>& entries);

// The image in an OCI image layout tar as the agent's Export writes it: the first manifest
// listed in index.json and its blobs.
absl::StatusOr<Image> ImageFromLayoutTar(std::string_view archive);

// An OCI image layout tar holding the images; `ref_names[i]` becomes the
// org.opencontainers.image.ref.name annotation of image i ("" for none).
std::string LayoutTar(const std::vector<const Image*>& images, const std::vector<std::string>& ref_names);
// An OCI image layout tar whose index.json names one nested index (a multi-platform image)
// of the entries, annotated with `ref_name`.
std::string LayoutTarWithIndex(const std::vector<IndexEntry>& entries, const std::string& ref_name);
// A `docker save` archive: manifest.json, the config as <hex>.json, each layer (uncompressed)
// as <diff hex>/layer.tar.
std::string DockerArchiveTar(const Image& image, const std::vector<std::string>& repo_tags);

// Random bytes (for big layers that do not compress).
std::string RandomBytes(size_t n);

}  // namespace berth::testing
