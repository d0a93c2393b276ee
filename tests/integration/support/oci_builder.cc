#include "tests/integration/support/oci_builder.h"

#include <cstdio>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace berth::testing {

namespace {

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

// libarchive's write callback: the archive grows in a std::string.
la_ssize_t WriteOut(struct archive*, void* user, const void* buf, size_t n) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

}  // namespace

std::string Sha256Digest(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return "sha256:" + absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), len));
}

std::string DigestHex(std::string_view digest) {
  if (digest.substr(0, 7) == "sha256:") digest.remove_prefix(7);
  return std::string(digest);
}

TarItem File(std::string path, std::string data, mode_t mode) {
  return TarItem{std::move(path), TarItem::Type::kFile, std::move(data), mode};
}
TarItem Dir(std::string path, mode_t mode) { return TarItem{std::move(path), TarItem::Type::kDir, "", mode}; }
TarItem Symlink(std::string path, std::string target) {
  return TarItem{std::move(path), TarItem::Type::kSymlink, std::move(target), 0777};
}
TarItem BlockDevice(std::string path, unsigned major, unsigned minor) {
  return TarItem{std::move(path), TarItem::Type::kBlockDevice, absl::StrCat(major, ":", minor), 0666};
}

TarItem Hardlink(std::string path, std::string target) {
  return TarItem{std::move(path), TarItem::Type::kHardlink, std::move(target), 0644};
}

std::string MakeTar(const std::vector<TarItem>& items) {
  std::string out;
  ArchivePtr a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  archive_write_open(a.get(), &out, nullptr, WriteOut, nullptr);
  for (const TarItem& item : items) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, item.path.c_str());
    archive_entry_set_uid(e, item.uid);
    archive_entry_set_gid(e, item.gid);
    archive_entry_set_mtime(e, 1700000000, 0);
    switch (item.type) {
      case TarItem::Type::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, item.mode);
        archive_entry_set_size(e, static_cast<la_int64_t>(item.data.size()));
        break;
      case TarItem::Type::kDir:
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, item.mode);
        break;
      case TarItem::Type::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_perm(e, 0777);
        archive_entry_set_symlink(e, item.data.c_str());
        break;
      case TarItem::Type::kBlockDevice: {
        unsigned major = 0, minor = 0;
        std::sscanf(item.data.c_str(), "%u:%u", &major, &minor);
        archive_entry_set_filetype(e, AE_IFBLK);
        archive_entry_set_perm(e, item.mode);
        archive_entry_set_rdevmajor(e, major);
        archive_entry_set_rdevminor(e, minor);
        break;
      }
      case TarItem::Type::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, item.mode);
        archive_entry_set_hardlink(e, item.data.c_str());
        archive_entry_set_size(e, 0);
        break;
    }
    archive_write_header(a.get(), e);
    if (item.type == TarItem::Type::kFile && !item.data.empty()) {
      archive_write_data(a.get(), item.data.data(), item.data.size());
    }
    archive_entry_free(e);
  }
  archive_write_close(a.get());
  return out;
}

std::string Gzip(std::string_view data) {
  std::string out;
  ArchivePtr a(archive_write_new(), archive_write_free);
  archive_write_add_filter_gzip(a.get());
  archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr);  // reproducible bytes
  archive_write_set_format_raw(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  archive_write_open(a.get(), &out, nullptr, WriteOut, nullptr);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a.get(), e);
  archive_write_data(a.get(), data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a.get());
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ReadTarFiles(std::string_view archive) {
  ArchivePtr a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), archive.data(), archive.size()) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("read tar: ", archive_error_string(a.get())));
  }
  std::map<std::string, std::string> files;
  struct archive_entry* e;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    std::string path(absl::StripPrefix(archive_entry_pathname(e), "./"));
    std::string data;
    char buf[1 << 16];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof(buf))) > 0) data.append(buf, static_cast<size_t>(n));
    if (n < 0) return absl::InvalidArgumentError(absl::StrCat("read tar ", path, ": ", archive_error_string(a.get())));
    files[path] = std::move(data);
  }
  if (rc != ARCHIVE_EOF) return absl::InvalidArgumentError(absl::StrCat("read tar: ", archive_error_string(a.get())));
  return files;
}

Layer MakeLayer(const std::vector<TarItem>& items, bool gzip) {
  Layer layer;
  layer.tar = MakeTar(items);
  layer.blob = gzip ? Gzip(layer.tar) : layer.tar;
  layer.media_type = gzip ? kOciLayerGzipType : kOciLayerType;
  return layer;
}

absl::StatusOr<Layer> LayerFromBlob(std::string blob, std::string media_type) {
  Layer layer;
  const bool gzip = blob.size() >= 2 && static_cast<unsigned char>(blob[0]) == 0x1f &&
                    static_cast<unsigned char>(blob[1]) == 0x8b;
  if (gzip) {
    ArchivePtr a(archive_read_new(), archive_read_free);
    archive_read_support_filter_gzip(a.get());
    archive_read_support_format_raw(a.get());
    if (archive_read_open_memory(a.get(), blob.data(), blob.size()) != ARCHIVE_OK) {
      return absl::InvalidArgumentError("gunzip layer");
    }
    struct archive_entry* e;
    if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK) return absl::InvalidArgumentError("gunzip layer");
    char buf[1 << 16];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof(buf))) > 0) layer.tar.append(buf, static_cast<size_t>(n));
    if (n < 0) return absl::InvalidArgumentError("gunzip layer");
  } else {
    layer.tar = blob;
  }
  layer.blob = std::move(blob);
  layer.media_type = std::move(media_type);
  return layer;
}

void Image::Seal() {
  nlohmann::json diff_ids = nlohmann::json::array();
  nlohmann::json layer_descriptors = nlohmann::json::array();
  for (const Layer& l : layers) {
    diff_ids.push_back(l.diff_id());
    layer_descriptors.push_back({{"mediaType", l.media_type}, {"digest", l.digest()}, {"size", l.blob.size()}});
  }
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  config_bytes = config.dump();
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", kOciManifestType},
      {"config", {{"mediaType", kOciConfigType}, {"digest", config_digest()}, {"size", config_bytes.size()}}},
      {"layers", layer_descriptors},
  };
  manifest_bytes = manifest.dump();
}

Image Image::With(const Layer& layer) const {
  Image out = *this;
  out.layers.push_back(layer);
  if (out.config.contains("history")) out.config.erase("history");  // would no longer match
  out.Seal();
  return out;
}

std::string MakeIndex(const std::vector<IndexEntry>& entries) {
  nlohmann::json manifests = nlohmann::json::array();
  for (const IndexEntry& e : entries) {
    manifests.push_back({{"mediaType", kOciManifestType},
                         {"digest", e.image->manifest_digest()},
                         {"size", e.image->manifest_bytes.size()},
                         {"platform", {{"os", e.os}, {"architecture", e.architecture}}}});
  }
  return nlohmann::json({{"schemaVersion", 2}, {"mediaType", kOciIndexType}, {"manifests", manifests}}).dump();
}

absl::StatusOr<Image> ImageFromLayoutTar(std::string_view archive) {
  auto files = ReadTarFiles(archive);
  if (!files.ok()) return files.status();
  auto blob = [&](const std::string& digest) -> absl::StatusOr<std::string> {
    auto it = files->find("blobs/sha256/" + DigestHex(digest));
    if (it == files->end()) return absl::NotFoundError(absl::StrCat("layout has no blob ", digest));
    return it->second;
  };
  auto index_it = files->find("index.json");
  if (index_it == files->end()) return absl::NotFoundError("layout has no index.json");
  nlohmann::json index = nlohmann::json::parse(index_it->second, nullptr, false);
  if (!index.is_object() || !index["manifests"].is_array() || index["manifests"].empty()) {
    return absl::InvalidArgumentError("index.json lists no manifest");
  }
  auto manifest_bytes = blob(index["manifests"][0]["digest"].get<std::string>());
  if (!manifest_bytes.ok()) return manifest_bytes.status();
  nlohmann::json manifest = nlohmann::json::parse(*manifest_bytes, nullptr, false);
  if (!manifest.is_object()) return absl::InvalidArgumentError("manifest is not JSON");
  auto config_bytes = blob(manifest["config"]["digest"].get<std::string>());
  if (!config_bytes.ok()) return config_bytes.status();
  Image image;
  image.config = nlohmann::json::parse(*config_bytes, nullptr, false);
  if (!image.config.is_object()) return absl::InvalidArgumentError("config is not JSON");
  for (const auto& d : manifest["layers"]) {
    auto data = blob(d["digest"].get<std::string>());
    if (!data.ok()) return data.status();
    auto layer = LayerFromBlob(*data, d["mediaType"].get<std::string>());
    if (!layer.ok()) return layer.status();
    image.layers.push_back(*std::move(layer));
  }
  // Keep the exact bytes: sealing again would give the same digests only by luck.
  image.config_bytes = *config_bytes;
  image.manifest_bytes = *manifest_bytes;
  return image;
}

std::string LayoutTar(const std::vector<const Image*>& images, const std::vector<std::string>& ref_names) {
  std::vector<TarItem> items = {File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"), Dir("blobs"),
                                Dir("blobs/sha256")};
  std::map<std::string, std::string> blobs;
  nlohmann::json manifests = nlohmann::json::array();
  for (size_t i = 0; i < images.size(); ++i) {
    const Image& image = *images[i];
    nlohmann::json d = {{"mediaType", kOciManifestType},
                        {"digest", image.manifest_digest()},
                        {"size", image.manifest_bytes.size()}};
    if (i < ref_names.size() && !ref_names[i].empty()) {
      d["annotations"] = {{"org.opencontainers.image.ref.name", ref_names[i]}};
    }
    manifests.push_back(d);
    blobs[image.manifest_digest()] = image.manifest_bytes;
    blobs[image.config_digest()] = image.config_bytes;
    for (const Layer& l : image.layers) blobs[l.digest()] = l.blob;
  }
  items.push_back(File(
      "index.json",
      nlohmann::json({{"schemaVersion", 2}, {"mediaType", kOciIndexType}, {"manifests", manifests}}).dump()));
  for (const auto& [digest, data] : blobs) items.push_back(File("blobs/sha256/" + DigestHex(digest), data));
  return MakeTar(items);
}

std::string LayoutTarWithIndex(const std::vector<IndexEntry>& entries, const std::string& ref_name) {
  std::vector<TarItem> items = {File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"), Dir("blobs"),
                                Dir("blobs/sha256")};
  std::map<std::string, std::string> blobs;
  for (const IndexEntry& e : entries) {
    blobs[e.image->manifest_digest()] = e.image->manifest_bytes;
    blobs[e.image->config_digest()] = e.image->config_bytes;
    for (const Layer& l : e.image->layers) blobs[l.digest()] = l.blob;
  }
  const std::string nested = MakeIndex(entries);
  blobs[Sha256Digest(nested)] = nested;
  nlohmann::json top = {{"mediaType", kOciIndexType}, {"digest", Sha256Digest(nested)}, {"size", nested.size()}};
  if (!ref_name.empty()) top["annotations"] = {{"org.opencontainers.image.ref.name", ref_name}};
  items.push_back(File("index.json", nlohmann::json({{"schemaVersion", 2},
                                                     {"mediaType", kOciIndexType},
                                                     {"manifests", nlohmann::json::array({top})}})
                                         .dump()));
  for (const auto& [digest, data] : blobs) items.push_back(File("blobs/sha256/" + DigestHex(digest), data));
  return MakeTar(items);
}

std::string DockerArchiveTar(const Image& image, const std::vector<std::string>& repo_tags) {
  std::vector<TarItem> items;
  const std::string config_name = DigestHex(image.config_digest()) + ".json";
  items.push_back(File(config_name, image.config_bytes));
  nlohmann::json layers = nlohmann::json::array();
  for (const Layer& l : image.layers) {
    const std::string dir = DigestHex(l.diff_id());
    items.push_back(Dir(dir));
    items.push_back(File(dir + "/layer.tar", l.tar));
    layers.push_back(dir + "/layer.tar");
  }
  nlohmann::json manifest = nlohmann::json::array(
      {{{"Config", config_name}, {"RepoTags", repo_tags}, {"Layers", layers}}});
  items.insert(items.begin(), File("manifest.json", manifest.dump()));
  return MakeTar(items);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

}  // namespace berth::testing
