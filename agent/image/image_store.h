// The node's images, content-addressed (ContentStore) with one unpacked directory per layer,
// shared by every image and container that has it:
//   <dir>/content/blobs/sha256/<hex>   manifests, configs, layers as pulled or imported
//   <dir>/layers/<12 hex of chain id>/ a layer unpacked (overlay whiteouts), read-only lower
//   <dir>/refs.json                    reference → manifest digest, replaced atomically
// A container's root is an overlay of its image's layer dirs (short paths, so even images of
// many layers fit the mount options' page) plus its own upper dir. Thread-safe; concurrent
// pulls of the same content share the work (per-digest locks).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/image/content_store.h"
#include "agent/image/manifest.h"
#include "agent/image/reference.h"
#include "agent/image/registry_client.h"

namespace berth::image {

struct Image {
  std::string id;                  // config digest
  std::string name;                // the reference it was found by, normalised
  std::vector<std::string> names;  // every reference pointing at it, normalised
  std::string manifest_digest;
  std::vector<Descriptor> layer_blobs;
  std::vector<std::string> layers;  // unpacked dirs, lowest first
  ConfigFile config;
  int64_t size = 0;                // config + layer blobs
};

struct LayerEvent {
  std::string digest;
  int64_t done = 0;
  int64_t total = 0;
  std::string status;  // waiting, downloading, exists, downloaded, unpacking, done
};
// Called from several threads (one per layer); must be thread-safe.
using ProgressFn = std::function<void(const LayerEvent&)>;

// Which image ids containers still use (the caller's knowledge).
using InUseFn = std::function<std::set<std::string>()>;

struct RemoveResult {
  std::vector<std::string> untagged;
  std::vector<std::string> deleted;  // image ids whose content went
};

struct Usage {
  int images = 0;
  int64_t images_size = 0;  // blobs
  int layers = 0;
  int64_t layers_size = 0;  // unpacked dirs
  int64_t reclaimable = 0;  // blobs + layers of images no container uses
};

class ImageStore {
 public:
  ImageStore(std::string dir, RegistryOptions registry);

  // Makes the dirs, clears interrupted downloads and unpacks, loads the references.
  absl::Status Init();

  // A local image by reference, id or unique id prefix (at least 12 hex digits); NOT_FOUND
  // "image X not found" otherwise. Layers a crash lost are unpacked again from their blobs.
  absl::StatusOr<Image> Get(const std::string& ref);
  std::vector<Image> List();

  // While held, Remove and Prune treat the image as used: a container being created holds
  // one from finding its image until its record counts as a use.
  using Pin = std::shared_ptr<void>;
  // Get, and a pin taken under the lock Remove and Prune decide under: either the image is
  // found and pinned first, or it was removed first and this is NOT_FOUND.
  absl::StatusOr<std::pair<Image, Pin>> GetPinned(const std::string& ref);

  // Pulls from the registry (or its mirror): index → the linux/amd64 manifest → config and
  // layers (downloaded in parallel, each verified before commit) → unpacked → reference set.
  // `cancelled` is asked as data arrives: once it says so, the downloads stop (CANCELLED) and
  // nothing partial is kept.
  // `credentials`: used for this pull instead of the auth files (a CRI PullImage's auth).
  absl::StatusOr<Image> Pull(const std::string& ref, const ProgressFn& progress = nullptr,
                             const std::function<bool()>& cancelled = nullptr,
                             const std::optional<RegistryCredentials>& credentials = std::nullopt);

  // An OCI image layout or a `docker save` archive (tar, optionally gzip); every image in it
  // with a name gets its reference. `default_name` names an image the archive leaves unnamed.
  absl::StatusOr<std::vector<Image>> Import(const std::string& tar_path, const std::string& default_name = "");
  // An OCI image layout tar of the images (their manifests byte for byte, so digests survive
  // an export + import).
  absl::Status Export(const std::vector<std::string>& refs, const std::string& tar_path);

  absl::StatusOr<Image> Tag(const std::string& source, const std::string& target);
  // Removes a reference (or, given an id, every reference of that image); content no other
  // image needs is freed. FAILED_PRECONDITION when a container uses the image, unless force.
  absl::StatusOr<RemoveResult> Remove(const std::string& ref, bool force, const InUseFn& in_use);
  // Removes every image no container uses, then any blob or layer no image needs.
  // `dangling_only`: only images without a name (Docker's <none>) go.
  absl::StatusOr<RemoveResult> Prune(const InUseFn& in_use, int64_t* reclaimed_bytes, bool dangling_only = false);
  Usage DiskUsage(const InUseFn& in_use);

  // Builds the default image from Debian's busybox-static as an OCI layout and imports it
  // under `name` ("busybox" = docker.io/library/busybox:latest) unless that name exists.
  absl::Status EnsureBusybox(const std::string& busybox_binary, const std::string& name = "busybox");

  ContentStore& content() { return content_; }

 private:
  absl::StatusOr<Image> Load(const std::string& name, const std::string& manifest_digest);
  absl::StatusOr<std::vector<Image>> ImportLayout(const std::string& dir, const std::string& default_name);
  absl::StatusOr<std::vector<Image>> ImportDockerArchive(const std::string& dir);
  // Commits a file into the content store, verifying it when `expected_digest` is set.
  absl::StatusOr<std::string> PutFile(const std::string& path, const std::string& expected_digest);
  absl::Status FetchBlob(RegistryClient& registry, const Reference& ref, const Descriptor& blob, const ProgressFn& progress,
                         const std::function<bool()>& cancelled);
  // Names (normalised) pointing at each manifest digest; hidden keep-alive entries excluded.
  std::map<std::string, std::vector<std::string>> NamesByManifest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unpacks (once) the layer dirs of `manifest`/`config`; returns them lowest first.
  absl::StatusOr<std::vector<std::string>> EnsureLayers(const Manifest& manifest, const ConfigFile& config);
  absl::Status SetReference(const std::string& name, const std::string& manifest_digest);
  absl::Status SaveRefs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes blobs and layer dirs no referenced image needs.
  int64_t CollectGarbage();
  std::shared_ptr<std::mutex> KeyLock(const std::string& key);
  absl::StatusOr<std::string> ResolveName(const std::string& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ResolveName under the lock: the reference's key in refs_ and its manifest digest.
  absl::StatusOr<std::pair<std::string, std::string>> Lookup(const std::string& ref);

  const std::string dir_;
  ContentStore content_;
  RegistryOptions registry_options_;  // for a pull with credentials of its own
  RegistryClient registry_;

  std::mutex mu_;
  std::map<std::string, std::string> refs_ ABSL_GUARDED_BY(mu_);  // normalised name → manifest digest
  std::map<std::string, int> pinned_ ABSL_GUARDED_BY(mu_);        // image id → pins held

  std::mutex keys_mu_;
  std::map<std::string, std::weak_ptr<std::mutex>> key_locks_ ABSL_GUARDED_BY(keys_mu_);
  // Pulls, imports and lookups hold it shared; a garbage collection holds it exclusively, so
  // it never deletes content that a pull has committed but not referenced yet.
  std::shared_mutex gc_mu_;
};

// The layer dir a container's lower stack uses for a chain id.
std::string LayerDirName(const std::string& chain_id);

}  // namespace berth::image
