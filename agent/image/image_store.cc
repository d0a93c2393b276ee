#include "agent/image/image_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/image/archive.h"
#include "agent/image/busybox_image.h"
#include "agent/image/digest.h"
#include "agent/image/layer_unpack.h"
#include "runtime/base/crash_point.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace berth::image {

namespace {

constexpr char kKeepPrefix[] = "keep:";  // refs_ key keeping an untagged image a container uses
constexpr int kParallelLayers = 3;
constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";
constexpr char kContainerdNameAnnotation[] = "io.containerd.image.name";

std::string RandomSuffix() {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(::getpid(), "-", counter.fetch_add(1));
}

bool LooksLikeIdPrefix(absl::string_view ref) {
  ref = absl::StripPrefix(ref, "sha256:");
  if (ref.size() < 12 || ref.size() > 64) return false;
  return std::all_of(ref.begin(), ref.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Runs `work(i)` for i in [0, n) on up to `parallel` threads; the first error wins.
absl::Status ParallelFor(size_t n, int parallel, const std::function<absl::Status(size_t)>& work) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  absl::Status first;
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      absl::Status st = work(i);
      std::lock_guard<std::mutex> lock(mu);
      if (!st.ok() && first.ok()) first = st;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < parallel && static_cast<size_t>(t) < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return first;
}

// A Writer as the registry client's sink.
class WriterSink : public BlobSink {
 public:
  WriterSink(ContentStore::Writer& writer, std::function<void(int64_t)> progress, std::function<bool()> cancelled)
      : writer_(writer), progress_(std::move(progress)), cancelled_(std::move(cancelled)) {}
  absl::Status Write(absl::string_view data) override {
    // A sink error ends the download for good: the registry client does not retry it.
    if (cancelled_ && cancelled_()) return absl::CancelledError("pull cancelled by the client");
    absl::Status st = writer_.Write(data);
    if (progress_) progress_(writer_.size());
    return st;
  }
  absl::Status Reset() override { return writer_.Reset(); }

 private:
  ContentStore::Writer& writer_;
  std::function<void(int64_t)> progress_;
  std::function<bool()> cancelled_;
};

}  // namespace

std::string LayerDirName(const std::string& chain_id) { return DigestHex(chain_id).substr(0, 12); }

ImageStore::ImageStore(std::string dir, RegistryOptions registry)
    : dir_(std::move(dir)), content_(dir_ + "/content"), registry_options_(registry), registry_(std::move(registry)) {}

absl::Status ImageStore::Init() {
  if (absl::Status st = MakeDirs(dir_ + "/layers", 0700); !st.ok()) return st;
  if (absl::Status st = content_.Init(); !st.ok()) return st;
  for (const std::string& name : ListDirectory(dir_ + "/layers")) {
    if (absl::StartsWith(name, ".tmp-")) (void)RemoveTree(dir_ + "/layers/" + name);  // an interrupted unpack
  }
  for (const std::string& name : ListDirectory(dir_)) {
    if (absl::StartsWith(name, ".import-") || absl::StartsWith(name, ".export-")) (void)RemoveTree(dir_ + "/" + name);
  }
  std::lock_guard<std::mutex> lock(mu_);
  refs_.clear();
  auto text = ReadFile(dir_ + "/refs.json");
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return absl::OkStatus();
    return text.status();
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return absl::DataLossError(absl::StrCat(dir_, "/refs.json is not a JSON object"));
  for (const auto& [name, digest] : j.items()) {
    if (digest.is_string()) refs_[name] = digest.get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status ImageStore::SaveRefs() {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, digest] : refs_) j[name] = digest;
  return WriteFileAtomic(dir_ + "/refs.json", j.dump(2), 0600, Durability::kDurable);
}

absl::Status ImageStore::SetReference(const std::string& name, const std::string& manifest_digest) {
  std::lock_guard<std::mutex> lock(mu_);
  auto old = refs_.find(name);
  std::string previous = old == refs_.end() ? "" : old->second;
  refs_[name] = manifest_digest;
  // A name moving to another image leaves the old one dangling, not gone: containers may run
  // on its layers. Prune removes it once none does (Docker's <none> images).
  std::string kept;
  if (!previous.empty() && previous != manifest_digest &&
      std::none_of(refs_.begin(), refs_.end(), [&](const auto& r) { return r.second == previous; })) {
    if (auto m = content_.ReadVerified(previous); m.ok()) {
      if (auto parsed = ParseManifest(*m); parsed.ok()) {
        kept = absl::StrCat(kKeepPrefix, parsed->config.digest);
        refs_[kept] = previous;
      }
    }
  }
  absl::Status st = SaveRefs();
  if (!st.ok()) {
    if (previous.empty()) refs_.erase(name); else refs_[name] = previous;
    if (!kept.empty()) refs_.erase(kept);
  }
  return st;
}

std::map<std::string, std::vector<std::string>> ImageStore::NamesByManifest() {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, digest] : refs_) {
    if (absl::StartsWith(name, kKeepPrefix)) {
      out[digest];  // present, without a name
      continue;
    }
    out[digest].push_back(name);
  }
  return out;
}

std::shared_ptr<std::mutex> ImageStore::KeyLock(const std::string& key) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  auto& weak = key_locks_[key];
  auto strong = weak.lock();
  if (!strong) {
    strong = std::make_shared<std::mutex>();
    weak = strong;
  }
  return strong;
}

absl::StatusOr<std::string> ImageStore::ResolveName(const std::string& ref) {
  if (refs_.count(ref)) return ref;
  auto parsed = ParseReference(ref);
  if (parsed.ok() && refs_.count(parsed->String())) return parsed->String();
  if (LooksLikeIdPrefix(ref)) {
    std::string prefix = absl::StrCat("sha256:", absl::StripPrefix(ref, "sha256:"));
    std::string found;
    for (const auto& [name, digest] : refs_) {
      auto manifest_json = content_.ReadVerified(digest);
      if (!manifest_json.ok()) continue;
      auto manifest = ParseManifest(*manifest_json);
      if (!manifest.ok() || !absl::StartsWith(manifest->config.digest, prefix)) continue;
      if (!found.empty() && refs_[found] != digest) {
        return absl::InvalidArgumentError(absl::StrCat("image id prefix ", ref, " is ambiguous"));
      }
      if (found.empty() || absl::StartsWith(found, kKeepPrefix)) found = name;
    }
    if (!found.empty()) return found;
  }
  if (!parsed.ok()) return parsed.status();
  if (!parsed->digest.empty()) {
    // repo@digest also names an image of that repository known by a tag, pinned to the
    // manifest the tag gave (the repo digests the CRI reports).
    for (const auto& [name, digest] : refs_) {
      if (digest != parsed->digest) continue;
      absl::StatusOr<Reference> known = ParseReference(name);
      if (known.ok() && known->Name() == parsed->Name()) return name;
    }
  }
  return absl::NotFoundError(absl::StrCat("image ", parsed->Familiar(), " not found; pull or import it first"));
}

absl::StatusOr<std::pair<std::string, std::string>> ImageStore::Lookup(const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  auto name = ResolveName(ref);
  if (!name.ok()) return name.status();
  return std::make_pair(*name, refs_.at(*name));
}

absl::StatusOr<std::pair<Image, ImageStore::Pin>> ImageStore::GetPinned(const std::string& ref) {
  absl::StatusOr<Image> image = Get(ref);
  if (!image.ok()) return image.status();
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::string> name = ResolveName(ref);
  if (!name.ok() || refs_.at(*name) != image->manifest_digest) {
    return absl::NotFoundError(absl::StrCat("image ", Quoted(ref), " was removed while the container was being created"));
  }
  ++pinned_[image->id];
  Pin pin(nullptr, [this, id = image->id](void*) {
    std::lock_guard<std::mutex> unpin(mu_);
    if (--pinned_[id] <= 0) pinned_.erase(id);
  });
  return std::make_pair(std::move(*image), std::move(pin));
}

absl::StatusOr<Image> ImageStore::Get(const std::string& ref) {
  std::shared_lock<std::shared_mutex> gc(gc_mu_);
  auto found = Lookup(ref);
  if (!found.ok()) return found.status();
  return Load(found->first, found->second);
}

absl::StatusOr<Image> ImageStore::Load(const std::string& name, const std::string& manifest_digest) {
  auto manifest_json = content_.ReadVerified(manifest_digest);
  if (!manifest_json.ok()) return Annotate(manifest_json.status(), absl::StrCat("image ", name, ": manifest"));
  auto manifest = ParseManifest(*manifest_json);
  if (!manifest.ok()) return Annotate(manifest.status(), absl::StrCat("image ", name));
  auto config_json = content_.ReadVerified(manifest->config.digest);
  if (!config_json.ok()) return Annotate(config_json.status(), absl::StrCat("image ", name, ": config"));
  auto config = ParseConfig(*config_json);
  if (!config.ok()) return Annotate(config.status(), absl::StrCat("image ", name, ": config"));
  auto layers = EnsureLayers(*manifest, *config);
  if (!layers.ok()) return Annotate(layers.status(), absl::StrCat("image ", name));
  Image image;
  image.id = manifest->config.digest;
  image.name = absl::StartsWith(name, kKeepPrefix) ? "" : name;
  image.manifest_digest = manifest_digest;
  image.layer_blobs = manifest->layers;
  image.layers = *layers;
  image.config = *config;
  image.size = static_cast<int64_t>(config_json->size());
  for (const auto& l : manifest->layers) image.size += l.size;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [n, d] : refs_) {
    if (d == manifest_digest && !absl::StartsWith(n, kKeepPrefix)) image.names.push_back(n);
  }
  return image;
}

absl::StatusOr<std::vector<std::string>> ImageStore::EnsureLayers(const Manifest& manifest, const ConfigFile& config) {
  if (manifest.layers.size() != config.diff_ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest has ", manifest.layers.size(), " layers but the config lists ",
                                                   config.diff_ids.size(), " diff_ids"));
  }
  std::vector<std::string> chains = ChainIds(config.diff_ids);
  std::vector<std::string> dirs(chains.size());
  absl::Status st = ParallelFor(chains.size(), kParallelLayers, [&](size_t i) -> absl::Status {
    const std::string dir = absl::StrCat(dir_, "/layers/", LayerDirName(chains[i]));
    dirs[i] = dir;
    struct stat sb;
    if (::stat(dir.c_str(), &sb) == 0) return absl::OkStatus();
    auto lock = KeyLock("layer:" + chains[i]);
    std::lock_guard<std::mutex> guard(*lock);
    if (::stat(dir.c_str(), &sb) == 0) return absl::OkStatus();  // another pull unpacked it meanwhile
    const Descriptor& blob = manifest.layers[i];
    if (!content_.Has(blob.digest)) {
      return absl::FailedPreconditionError(absl::StrCat("layer ", blob.digest, " is not in the content store"));
    }
    const std::string tmp = absl::StrCat(dir_, "/layers/.tmp-", LayerDirName(chains[i]), "-", RandomSuffix());
    if (::mkdir(tmp.c_str(), 0755) != 0) return ErrnoToStatus(absl::StrCat("mkdir ", tmp));
    auto unpacked = UnpackLayer(content_.BlobPath(blob.digest), tmp);
    if (unpacked.ok() && unpacked->diff_id != config.diff_ids[i]) {
      unpacked = absl::DataLossError(absl::StrCat("layer ", blob.digest, " unpacks to ", unpacked->diff_id,
                                                  ", but the image config says ", config.diff_ids[i]));
    }
    if (!unpacked.ok()) {
      (void)RemoveTree(tmp);
      return Annotate(unpacked.status(), absl::StrCat("unpack layer ", blob.digest));
    }
    if (::rename(tmp.c_str(), dir.c_str()) != 0) {
      absl::Status e = ErrnoToStatus(absl::StrCat("rename ", tmp));
      (void)RemoveTree(tmp);
      return e;
    }
    CrashPoint("pull.layer_committed");
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return dirs;
}

std::vector<Image> ImageStore::List() {
  // One reference to load each image by: a name, or for an unnamed one (kept for a
  // container, or imported without a name) its keeping reference. Unnamed ones are listed
  // too, as Docker lists <none> images.
  std::map<std::string, std::string> load_by;  // manifest digest -> reference
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, digest] : refs_) {
      auto [it, added] = load_by.emplace(digest, name);
      if (!added && absl::StartsWith(it->second, kKeepPrefix)) it->second = name;
    }
  }
  std::vector<Image> out;
  for (const auto& [digest, by] : load_by) {
    std::shared_lock<std::shared_mutex> gc(gc_mu_);
    auto image = Load(by, digest);
    if (image.ok()) out.push_back(*image);
  }
  return out;
}

absl::Status ImageStore::FetchBlob(RegistryClient& registry, const Reference& ref, const Descriptor& blob, const ProgressFn& progress,
                                   const std::function<bool()>& cancelled) {
  auto lock = KeyLock("blob:" + blob.digest);
  std::lock_guard<std::mutex> guard(*lock);  // a concurrent pull of the same blob waits, then finds it
  if (content_.Has(blob.digest)) {
    if (progress) progress({blob.digest, blob.size, blob.size, "exists"});
    return absl::OkStatus();
  }
  auto writer = content_.NewWriter();
  if (!writer.ok()) return writer.status();
  WriterSink sink(
      *writer,
      [&](int64_t done) {
        if (progress) progress({blob.digest, done, blob.size, "downloading"});
      },
      cancelled);
  if (absl::Status st = registry.GetBlob(ref, blob.digest, sink); !st.ok()) return st;
  auto committed = writer->Commit(blob.digest, blob.size);
  if (!committed.ok()) return Annotate(committed.status(), absl::StrCat("blob from ", ref.registry));
  if (progress) progress({blob.digest, blob.size, blob.size, "downloaded"});
  return absl::OkStatus();
}

absl::StatusOr<Image> ImageStore::Pull(const std::string& text, const ProgressFn& progress,
                                       const std::function<bool()>& cancelled,
                                       const std::optional<RegistryCredentials>& credentials) {
  auto ref = ParseReference(text);
  if (!ref.ok()) return ref.status();
  // A client of its own, so that tokens got with these credentials serve no other pull.
  std::unique_ptr<RegistryClient> own_client;
  if (credentials.has_value()) {
    RegistryOptions options = registry_options_;
    options.credentials = credentials;
    own_client = std::make_unique<RegistryClient>(std::move(options));
  }
  RegistryClient& registry = own_client ? *own_client : registry_;
  std::shared_lock<std::shared_mutex> gc(gc_mu_);
  auto top = registry.GetManifest(*ref);
  if (!top.ok()) return top.status();
  std::string media_type = top->media_type;
  if (!IsManifestType(media_type) && !IsIndexType(media_type)) media_type = DetectMediaType(top->body);
  FetchedManifest chosen = *top;
  if (IsIndexType(media_type)) {
    auto index = ParseIndex(top->body, media_type);
    if (!index.ok()) return index.status();
    auto platform = SelectPlatform(*index);
    if (!platform.ok()) return Annotate(platform.status(), ref->Familiar());
    if (auto st = content_.Put(top->body, top->digest); !st.ok()) return st.status();
    auto m = registry.GetManifest(*ref, platform->digest);
    if (!m.ok()) return m.status();
    chosen = *m;
    if (!IsManifestType(chosen.media_type)) chosen.media_type = platform->media_type;
  }
  auto manifest = ParseManifest(chosen.body, chosen.media_type);
  if (!manifest.ok()) return Annotate(manifest.status(), ref->Familiar());
  if (auto st = content_.Put(chosen.body, chosen.digest); !st.ok()) return st.status();
  if (absl::Status st = FetchBlob(registry, *ref, manifest->config, nullptr, cancelled); !st.ok()) {
    return Annotate(st, "image config");
  }
  for (const auto& l : manifest->layers) {
    if (progress) progress({l.digest, 0, l.size, "waiting"});
  }
  absl::Status fetched = ParallelFor(manifest->layers.size(), kParallelLayers, [&](size_t i) {
    return FetchBlob(registry, *ref, manifest->layers[i], progress, cancelled);
  });
  if (!fetched.ok()) return fetched;
  auto config_json = content_.ReadVerified(manifest->config.digest);
  if (!config_json.ok()) return config_json.status();
  auto config = ParseConfig(*config_json);
  if (!config.ok()) return config.status();
  for (const auto& l : manifest->layers) {
    if (progress) progress({l.digest, l.size, l.size, "unpacking"});
  }
  auto layers = EnsureLayers(*manifest, *config);
  if (!layers.ok()) return layers.status();
  for (const auto& l : manifest->layers) {
    if (progress) progress({l.digest, l.size, l.size, "done"});
  }
  // A pull by tag names repo:tag; a pull by digest names repo@digest (of the top document).
  Reference name = *ref;
  if (!name.digest.empty()) name.tag.clear();
  if (absl::Status st = SetReference(name.String(), chosen.digest); !st.ok()) return st;
  return Load(name.String(), chosen.digest);
}

absl::StatusOr<std::string> ImageStore::PutFile(const std::string& path, const std::string& expected_digest) {
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return ErrnoToStatus(absl::StrCat("open ", path));
  auto writer = content_.NewWriter();
  if (!writer.ok()) return writer.status();
  // Without an expected digest, the one computed here is what Commit checks against.
  Sha256 hash;
  std::unique_ptr<char[]> buf(new char[1 << 16]);
  ssize_t n;
  while ((n = ::read(in.get(), buf.get(), 1 << 16)) > 0) {
    absl::string_view chunk(buf.get(), static_cast<size_t>(n));
    if (expected_digest.empty()) hash.Update(chunk);
    if (absl::Status st = writer->Write(chunk); !st.ok()) return st;
  }
  if (n < 0) return ErrnoToStatus(absl::StrCat("read ", path));
  return writer->Commit(expected_digest.empty() ? hash.Digest() : expected_digest);
}

absl::StatusOr<std::vector<Image>> ImageStore::Import(const std::string& tar_path, const std::string& default_name) {
  std::shared_lock<std::shared_mutex> gc(gc_mu_);
  const std::string work = absl::StrCat(dir_, "/.import-", RandomSuffix());
  if (::mkdir(work.c_str(), 0700) != 0) return ErrnoToStatus(absl::StrCat("mkdir ", work));
  absl::StatusOr<std::vector<Image>> result;
  if (absl::Status extracted = ExtractImageArchive(tar_path, work); !extracted.ok()) {
    result = extracted;
  } else {
    if (::access((work + "/index.json").c_str(), F_OK) == 0) {
      result = ImportLayout(work, default_name);
    } else if (::access((work + "/manifest.json").c_str(), F_OK) == 0) {
      result = ImportDockerArchive(work);
    } else {
      result = absl::InvalidArgumentError(
          "the archive is neither an OCI image layout (no index.json) nor a `docker save` archive (no manifest.json)");
    }
  }
  (void)RemoveTree(work);
  return result;
}

absl::StatusOr<std::vector<Image>> ImageStore::ImportLayout(const std::string& dir, const std::string& default_name) {
  // Every blob goes in verified against its file name: a tampered layout is refused whole.
  for (const std::string& hex : ListDirectory(dir + "/blobs/sha256")) {
    std::string digest = "sha256:" + hex;
    if (!ValidateDigest(digest).ok()) continue;
    if (content_.Has(digest)) continue;
    auto put = PutFile(dir + "/blobs/sha256/" + hex, digest);
    if (!put.ok()) return Annotate(put.status(), "import blob");
  }
  auto index_json = ReadFile(dir + "/index.json");
  if (!index_json.ok()) return index_json.status();
  auto index = ParseIndex(*index_json, kOciIndex);
  if (!index.ok()) return Annotate(index.status(), "index.json");
  std::vector<Image> out;
  for (const Descriptor& d : index->manifests) {
    Descriptor target = d;
    if (IsIndexType(d.media_type)) {
      auto nested_json = content_.ReadVerified(d.digest);
      if (!nested_json.ok()) return nested_json.status();
      auto nested = ParseIndex(*nested_json, d.media_type);
      if (!nested.ok()) return nested.status();
      auto platform = SelectPlatform(*nested);
      if (!platform.ok()) return platform.status();
      target = *platform;
    }
    auto manifest_json = content_.ReadVerified(target.digest);
    if (!manifest_json.ok()) return Annotate(manifest_json.status(), "import manifest");
    auto manifest = ParseManifest(*manifest_json, target.media_type);
    if (!manifest.ok()) return manifest.status();
    auto config_json = content_.ReadVerified(manifest->config.digest);
    if (!config_json.ok()) return config_json.status();
    auto config = ParseConfig(*config_json);
    if (!config.ok()) return config.status();
    if (auto layers = EnsureLayers(*manifest, *config); !layers.ok()) return layers.status();

    std::string name;
    auto annotated = d.annotations.find(kContainerdNameAnnotation);
    if (annotated == d.annotations.end()) annotated = d.annotations.find(kRefNameAnnotation);
    if (annotated != d.annotations.end()) {
      const std::string& value = annotated->second;
      if (value.find('/') != std::string::npos || value.find(':') != std::string::npos ||
          (default_name.empty() && ParseReference(value).ok())) {
        auto ref = ParseReference(value);
        if (ref.ok()) name = ref->String();
      } else if (!default_name.empty()) {
        auto ref = ParseReference(default_name);  // the annotation is only a tag (skopeo oci:dir:tag)
        if (ref.ok()) {
          ref->tag = value;
          ref->digest.clear();
          name = ref->String();
        }
      }
    } else if (!default_name.empty()) {
      auto ref = ParseReference(default_name);
      if (ref.ok()) name = ref->String();
    }
    if (name.empty()) name = absl::StrCat(kKeepPrefix, manifest->config.digest);  // unnamed: by id only
    if (absl::Status st = SetReference(name, target.digest); !st.ok()) return st;
    auto image = Load(name, target.digest);
    if (!image.ok()) return image.status();
    out.push_back(*image);
  }
  return out;
}

absl::StatusOr<std::vector<Image>> ImageStore::ImportDockerArchive(const std::string& dir) {
  auto text = ReadFile(dir + "/manifest.json");
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_array()) return absl::InvalidArgumentError("manifest.json of the docker archive is not a JSON array");
  std::vector<Image> out;
  for (const auto& entry : j) {
    if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string() || !entry.contains("Layers") ||
        !entry["Layers"].is_array()) {
      return absl::InvalidArgumentError("manifest.json entry needs Config and Layers");
    }
    auto path_of = [&](const nlohmann::json& v) -> absl::StatusOr<std::string> {
      if (!v.is_string()) return absl::InvalidArgumentError("manifest.json: a path is not a string");
      std::string p = v.get<std::string>();
      if (p.empty() || p[0] == '/' || p.find("..") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("manifest.json: bad path \"", p, "\""));
      }
      return dir + "/" + p;
    };
    auto config_path = path_of(entry["Config"]);
    if (!config_path.ok()) return config_path.status();
    auto config_digest = PutFile(*config_path, "");
    if (!config_digest.ok()) return config_digest.status();
    auto config_size = content_.Size(*config_digest);
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : entry["Layers"]) {
      auto layer_path = path_of(l);
      if (!layer_path.ok()) return layer_path.status();
      auto digest = PutFile(*layer_path, "");
      if (!digest.ok()) return digest.status();
      auto size = content_.Size(*digest);
      // docker save writes layers uncompressed; a gzip one is recognised by its magic.
      unsigned char magic[2] = {0, 0};
      if (UniqueFd f(::open(layer_path->c_str(), O_RDONLY | O_CLOEXEC)); f) (void)::read(f.get(), magic, 2);
      bool gzip = magic[0] == 0x1f && magic[1] == 0x8b;
      layers.push_back({{"mediaType", gzip ? kOciLayerGzip : kOciLayer}, {"digest", *digest}, {"size", size.value_or(0)}});
    }
    nlohmann::json manifest = {
        {"schemaVersion", 2},
        {"mediaType", kOciManifest},
        {"config", {{"mediaType", kOciConfig}, {"digest", *config_digest}, {"size", config_size.value_or(0)}}},
        {"layers", layers}};
    auto manifest_digest = content_.Put(manifest.dump());
    if (!manifest_digest.ok()) return manifest_digest.status();
    // Unpack (and so verify every diff_id) before any name points at it.
    if (auto m = ParseManifest(manifest.dump()); !m.ok()) {
      return m.status();
    } else if (auto c = content_.ReadVerified(*config_digest); !c.ok()) {
      return c.status();
    } else if (auto config = ParseConfig(*c); !config.ok()) {
      return config.status();
    } else if (auto layers_made = EnsureLayers(*m, *config); !layers_made.ok()) {
      return layers_made.status();
    }
    std::vector<std::string> names;
    if (entry.contains("RepoTags") && entry["RepoTags"].is_array()) {
      for (const auto& t : entry["RepoTags"]) {
        if (!t.is_string()) continue;
        auto ref = ParseReference(t.get<std::string>());
        if (ref.ok()) names.push_back(ref->String());
      }
    }
    if (names.empty()) names.push_back(absl::StrCat(kKeepPrefix, *config_digest));
    for (const auto& n : names) {
      if (absl::Status st = SetReference(n, *manifest_digest); !st.ok()) return st;
    }
    auto image = Load(names.front(), *manifest_digest);
    if (!image.ok()) return image.status();
    out.push_back(*image);
  }
  return out;
}

absl::Status ImageStore::Export(const std::vector<std::string>& refs, const std::string& tar_path) {
  if (refs.empty()) return absl::InvalidArgumentError("name at least one image to export");
  std::shared_lock<std::shared_mutex> gc(gc_mu_);
  using Kind = TarEntry::Kind;
  std::vector<TarEntry> entries = {{"oci-layout", Kind::kFile, "", R"({"imageLayoutVersion":"1.0.0"})"},
                                   {"blobs", Kind::kDir, "", "", "", 0755},
                                   {"blobs/sha256", Kind::kDir, "", "", "", 0755}};
  nlohmann::json manifests = nlohmann::json::array();
  std::set<std::string> blobs;
  for (const std::string& ref : refs) {
    auto found = Lookup(ref);
    if (!found.ok()) return found.status();
    const auto& [name, digest] = *found;
    auto image = Load(name, digest);
    if (!image.ok()) return image.status();
    auto manifest_json = content_.ReadVerified(digest);
    if (!manifest_json.ok()) return manifest_json.status();
    nlohmann::json d = {{"mediaType", DetectMediaType(*manifest_json)},
                        {"digest", digest},
                        {"size", manifest_json->size()},
                        {"platform", {{"os", image->config.os}, {"architecture", image->config.architecture}}}};
    if (!image->name.empty()) {
      d["annotations"] = {{kRefNameAnnotation, image->name}, {kContainerdNameAnnotation, image->name}};
    }
    manifests.push_back(d);
    blobs.insert(digest);
    blobs.insert(image->id);
    for (const auto& l : image->layer_blobs) blobs.insert(l.digest);
  }
  for (const std::string& b : blobs) {
    entries.push_back({"blobs/sha256/" + DigestHex(b), Kind::kFile, content_.BlobPath(b)});
  }
  nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", manifests}};
  entries.insert(entries.begin() + 1, TarEntry{"index.json", Kind::kFile, "", index.dump()});
  return WriteTar(tar_path, entries);
}

absl::StatusOr<Image> ImageStore::Tag(const std::string& source, const std::string& target) {
  auto ref = ParseReference(target);
  if (!ref.ok()) return ref.status();
  if (!ref->digest.empty()) return absl::InvalidArgumentError("a tag cannot name a digest");
  auto image = Get(source);
  if (!image.ok()) return image.status();
  if (absl::Status st = SetReference(ref->String(), image->manifest_digest); !st.ok()) return st;
  return Get(ref->String());
}

absl::StatusOr<RemoveResult> ImageStore::Remove(const std::string& ref, bool force, const InUseFn& in_use) {
  RemoveResult result;
  {
    std::unique_lock<std::shared_mutex> gc(gc_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    auto name = ResolveName(ref);
    if (!name.ok()) return name.status();
    const std::string digest = refs_.at(*name);
    // By id: every name of the image; by name: that name only.
    std::vector<std::string> going;
    auto as_name = ParseReference(ref);
    const bool by_id = !refs_.count(ref) && !(as_name.ok() && refs_.count(as_name->String()));
    for (const auto& [n, d] : refs_) {
      if (d == digest && (by_id || n == *name)) going.push_back(n);
    }
    size_t remaining = 0;
    for (const auto& [n, d] : refs_) {
      if (d == digest && std::find(going.begin(), going.end(), n) == going.end()) ++remaining;
    }
    std::string image_id;
    if (auto m = content_.ReadVerified(digest); m.ok()) {
      if (auto parsed = ParseManifest(*m); parsed.ok()) image_id = parsed->config.digest;
    }
    const bool used =
        !image_id.empty() && (pinned_.count(image_id) > 0 || (in_use && in_use().count(image_id) > 0));
    if (remaining == 0 && used && !force) {
      return absl::FailedPreconditionError(absl::StrCat("image ", ref, " is used by a container; remove the container first ",
                                                        "or force (the container keeps running on its layers)"));
    }
    for (const auto& n : going) {
      refs_.erase(n);
      if (!absl::StartsWith(n, kKeepPrefix)) {
        auto r = ParseReference(n);
        result.untagged.push_back(r.ok() ? r->Familiar() : n);
      }
    }
    if (remaining == 0) {
      if (used) {
        refs_[absl::StrCat(kKeepPrefix, image_id)] = digest;  // content stays for the container
      } else if (!image_id.empty()) {
        result.deleted.push_back(image_id);
      }
    }
    if (absl::Status st = SaveRefs(); !st.ok()) return st;
  }
  CollectGarbage();
  return result;
}

absl::StatusOr<RemoveResult> ImageStore::Prune(const InUseFn& in_use, int64_t* reclaimed_bytes, bool dangling_only) {
  RemoveResult result;
  {
    std::unique_lock<std::shared_mutex> gc(gc_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    // Decided under the lock, as Remove does: a container created meanwhile holds a pin
    // until its record counts as a use.
    std::set<std::string> used = in_use ? in_use() : std::set<std::string>();
    for (const auto& [id, count] : pinned_) used.insert(id);
    std::map<std::string, std::string> kept;
    for (const auto& [name, digest] : refs_) {
      std::string image_id;
      if (auto m = content_.ReadVerified(digest); m.ok()) {
        if (auto parsed = ParseManifest(*m); parsed.ok()) image_id = parsed->config.digest;
      }
      if ((!image_id.empty() && used.count(image_id)) || (dangling_only && !absl::StartsWith(name, kKeepPrefix))) {
        kept[name] = digest;
        continue;
      }
      if (!absl::StartsWith(name, kKeepPrefix)) {
        auto r = ParseReference(name);
        result.untagged.push_back(r.ok() ? r->Familiar() : name);
      }
      if (!image_id.empty() && std::find(result.deleted.begin(), result.deleted.end(), image_id) == result.deleted.end()) {
        result.deleted.push_back(image_id);
      }
    }
    refs_ = kept;
    if (absl::Status st = SaveRefs(); !st.ok()) return st;
  }
  int64_t freed = CollectGarbage();
  if (reclaimed_bytes) *reclaimed_bytes = freed;
  return result;
}

int64_t ImageStore::CollectGarbage() {
  std::unique_lock<std::shared_mutex> gc(gc_mu_);
  std::set<std::string> live_blobs, live_layers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, digest] : refs_) {
      live_blobs.insert(digest);
      auto m = content_.ReadVerified(digest);
      if (!m.ok()) continue;
      auto manifest = ParseManifest(*m);
      if (!manifest.ok()) continue;
      live_blobs.insert(manifest->config.digest);
      for (const auto& l : manifest->layers) live_blobs.insert(l.digest);
      auto c = content_.ReadVerified(manifest->config.digest);
      if (!c.ok()) continue;
      auto config = ParseConfig(*c);
      if (!config.ok()) continue;
      for (const auto& chain : ChainIds(config->diff_ids)) live_layers.insert(LayerDirName(chain));
    }
  }
  int64_t freed = 0;
  for (const std::string& digest : content_.List()) {
    if (live_blobs.count(digest)) continue;
    freed += content_.Size(digest).value_or(0);
    (void)content_.Delete(digest);
  }
  for (const std::string& name : ListDirectory(dir_ + "/layers")) {
    if (live_layers.count(name) || absl::StartsWith(name, ".")) continue;
    const std::string path = dir_ + "/layers/" + name;
    freed += DirectorySize(path);
    (void)RemoveTree(path);
  }
  return freed;
}

Usage ImageStore::DiskUsage(const InUseFn& in_use) {
  Usage u;
  const std::set<std::string> used = in_use ? in_use() : std::set<std::string>();
  std::set<std::string> used_blobs, used_layers;
  // Every image, the unnamed ones kept for containers included (List() leaves those out).
  std::vector<Image> images;
  {
    std::map<std::string, std::string> first_name;  // manifest digest → a key of refs_
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, digest] : refs_) first_name.emplace(digest, name);
    }
    std::shared_lock<std::shared_mutex> gc(gc_mu_);
    for (const auto& [digest, name] : first_name) {
      if (auto image = Load(name, digest); image.ok()) images.push_back(*image);
    }
  }
  for (const Image& image : images) {
    ++u.images;
    if (!used.count(image.id)) continue;
    used_blobs.insert(image.id);
    used_blobs.insert(image.manifest_digest);
    for (const auto& l : image.layer_blobs) used_blobs.insert(l.digest);
    for (const auto& d : image.layers) used_layers.insert(d.substr(d.rfind('/') + 1));
  }
  for (const std::string& digest : content_.List()) {
    int64_t size = content_.Size(digest).value_or(0);
    u.images_size += size;
    if (!used_blobs.count(digest)) u.reclaimable += size;
  }
  for (const std::string& name : ListDirectory(dir_ + "/layers")) {
    if (absl::StartsWith(name, ".")) continue;
    ++u.layers;
    int64_t size = DirectorySize(dir_ + "/layers/" + name);
    u.layers_size += size;
    if (!used_layers.count(name)) u.reclaimable += size;
  }
  return u;
}

absl::Status ImageStore::EnsureBusybox(const std::string& busybox_binary, const std::string& name) {
  auto ref = ParseReference(name);
  if (!ref.ok()) return ref.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (refs_.count(ref->String())) return absl::OkStatus();
  }
  const std::string work = absl::StrCat(dir_, "/.import-busybox-", RandomSuffix());
  if (::mkdir(work.c_str(), 0700) != 0) return ErrnoToStatus(absl::StrCat("mkdir ", work));
  const std::string tar = work + "/busybox-oci.tar";
  absl::Status st = BuildBusyboxLayout(busybox_binary, ref->String(), work, tar);
  if (st.ok()) {
    auto imported = Import(tar, ref->String());
    if (!imported.ok()) st = imported.status();
  }
  (void)RemoveTree(work);
  return Annotate(st, "default image busybox");
}

}  // namespace berth::image
