#include "agent/image/manifest.h"

#include <cstdint>
#include <limits>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/image/digest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/status_macros.h"

namespace berth::image {

namespace {

using Json = nlohmann::json;

constexpr char kDockerSchema1[] = "application/vnd.docker.distribution.manifest.v1+json";
constexpr char kDockerSchema1Signed[] = "application/vnd.docker.distribution.manifest.v1+prettyjws";

absl::Status Bad(absl::string_view what, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", why));
}

// A Content-Type may carry parameters ("...+json; charset=utf-8").
absl::string_view BareMediaType(absl::string_view type) {
  if (size_t semi = type.find(';'); semi != absl::string_view::npos) type = type.substr(0, semi);
  return absl::StripAsciiWhitespace(type);
}

// Parses without exceptions; anything but an object is refused.
absl::StatusOr<Json> ParseObject(absl::string_view text, absl::string_view what) {
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Bad(what, "not valid JSON");
  if (!doc.is_object()) return Bad(what, "not a JSON object");
  return doc;
}

// The optional string member `key`; INVALID_ARGUMENT when present but not a string (null counts
// as absent: Docker writes null for unset fields).
absl::Status OptionalString(const Json& obj, const char* key, absl::string_view what, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return Bad(what, absl::StrCat("\"", key, "\" is not a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status OptionalStringList(const Json& obj, const char* key, absl::string_view what,
                                std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Bad(what, absl::StrCat("\"", key, "\" is not an array of strings"));
  for (const Json& v : *it) {
    if (!v.is_string()) return Bad(what, absl::StrCat("\"", key, "\" holds a non-string"));
    out->push_back(v.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status OptionalStringMap(const Json& obj, const char* key, absl::string_view what,
                               std::map<std::string, std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Bad(what, absl::StrCat("\"", key, "\" is not an object"));
  for (auto kv = it->begin(); kv != it->end(); ++kv) {
    if (!kv.value().is_string()) {
      return Bad(what, absl::StrCat("\"", key, "\": value of \"", kv.key(), "\" is not a string"));
    }
    (*out)[kv.key()] = kv.value().get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status OptionalInt(const Json& obj, const char* key, absl::string_view what, int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) return Bad(what, absl::StrCat("\"", key, "\" is not an integer"));
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

// Docker's config.Healthcheck (durations in nanoseconds); the OCI spec does not define it, but
// images built by docker and buildah carry it.
absl::Status OptionalHealthcheck(const Json& cfg, absl::string_view what, ImageHealthcheck* out) {
  auto it = cfg.find("Healthcheck");
  if (it == cfg.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Bad(what, "\"Healthcheck\" is not an object");
  const std::string hw = absl::StrCat(what, ": Healthcheck");
  RETURN_IF_ERROR(OptionalStringList(*it, "Test", hw, &out->test));
  RETURN_IF_ERROR(OptionalInt(*it, "Interval", hw, &out->interval_ns));
  RETURN_IF_ERROR(OptionalInt(*it, "Timeout", hw, &out->timeout_ns));
  RETURN_IF_ERROR(OptionalInt(*it, "StartPeriod", hw, &out->start_period_ns));
  int64_t retries = 0;
  RETURN_IF_ERROR(OptionalInt(*it, "Retries", hw, &retries));
  if (retries < 0 || retries > 1'000'000) return Bad(hw, "\"Retries\" is out of range");
  out->retries = static_cast<int>(retries);
  return absl::OkStatus();
}

absl::Status CheckSchemaVersion(const Json& doc, absl::string_view what) {
  auto it = doc.find("schemaVersion");
  if (it == doc.end()) return Bad(what, "no schemaVersion");
  if (!it->is_number_integer() || it->get<int64_t>() != 2) {
    return Bad(what, absl::StrCat("schemaVersion ", it->dump(), " (only 2 is supported)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Descriptor> ParseDescriptor(const Json& j, const std::string& what, bool with_platform) {
  if (!j.is_object()) return Bad(what, "not an object");
  Descriptor d;
  RETURN_IF_ERROR(OptionalString(j, "mediaType", what, &d.media_type));
  if (d.media_type.empty()) return Bad(what, "no mediaType");
  RETURN_IF_ERROR(OptionalString(j, "digest", what, &d.digest));
  if (absl::Status st = ValidateDigest(d.digest); !st.ok()) return Bad(what, st.message());
  auto size = j.find("size");
  if (size == j.end()) return Bad(what, "no size");
  if (size->is_number_unsigned()) {
    if (size->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Bad(what, "size out of range");
    }
    d.size = static_cast<int64_t>(size->get<uint64_t>());
  } else if (size->is_number_integer()) {
    d.size = size->get<int64_t>();
  } else {
    return Bad(what, "size is not an integer");
  }
  if (d.size < 0) return Bad(what, "negative size");
  RETURN_IF_ERROR(OptionalStringMap(j, "annotations", what, &d.annotations));
  if (with_platform) {
    auto p = j.find("platform");
    if (p != j.end() && !p->is_null()) {
      if (!p->is_object()) return Bad(what, "platform is not an object");
      std::string pw = what + " platform";
      RETURN_IF_ERROR(OptionalString(*p, "os", pw, &d.platform.os));
      RETURN_IF_ERROR(OptionalString(*p, "architecture", pw, &d.platform.architecture));
      RETURN_IF_ERROR(OptionalString(*p, "variant", pw, &d.platform.variant));
    }
  }
  return d;
}

// The document's kind as `expected_kind` wants it, from (in order) its own mediaType, the
// registry's Content-Type, its shape. Refuses the other kind and Docker schema 1.
absl::StatusOr<std::string> ResolveType(const Json& doc, absl::string_view header_type, bool want_index,
                                        absl::string_view what) {
  std::string declared;
  RETURN_IF_ERROR(OptionalString(doc, "mediaType", what, &declared));
  absl::string_view header = BareMediaType(header_type);
  auto known = [](absl::string_view t) { return IsManifestType(t) || IsIndexType(t); };
  std::string type = declared;
  if (type.empty() && known(header)) type = std::string(header);
  if (type.empty()) {
    if (doc.contains("manifests")) {
      type = kOciIndex;
    } else if (doc.contains("layers") || doc.contains("config")) {
      type = kOciManifest;
    }
  }
  if (type == kDockerSchema1 || type == kDockerSchema1Signed || header == kDockerSchema1 ||
      header == kDockerSchema1Signed) {
    return Bad(what, "Docker schema 1 manifests are not supported");
  }
  if (type.empty()) return Bad(what, "neither an image manifest nor an image index");
  // The registry and the document must agree on the kind; the document's own (more
  // precise) type wins between OCI and Docker spellings of the same kind.
  if (known(header) && IsIndexType(header) != IsIndexType(type)) {
    return Bad(what, absl::StrCat("served as ", header, " but the document says ", type));
  }
  if (want_index) {
    if (IsManifestType(type)) return Bad(what, absl::StrCat("is an image manifest (", type, "), not an index"));
    if (!IsIndexType(type)) return Bad(what, absl::StrCat("unsupported media type ", type));
  } else {
    if (IsIndexType(type)) return Bad(what, absl::StrCat("is an image index (", type, "), not a manifest"));
    if (!IsManifestType(type)) return Bad(what, absl::StrCat("unsupported media type ", type));
  }
  return type;
}

std::string PlatformString(const Platform& p) {
  std::string s = absl::StrCat(p.os.empty() ? "?" : p.os, "/", p.architecture.empty() ? "?" : p.architecture);
  if (!p.variant.empty()) absl::StrAppend(&s, "/", p.variant);
  return s;
}

// The variant an architecture means when none is written (arm64 is v8; amd64 the baseline).
absl::string_view DefaultVariant(absl::string_view arch) {
  if (arch == "arm64") return "v8";
  if (arch == "amd64") return "v1";
  return "";
}

absl::StatusOr<ConfigFile> ParseConfigObject(const Json& doc) {
  constexpr absl::string_view what = "image config";
  ConfigFile cf;
  RETURN_IF_ERROR(OptionalString(doc, "os", what, &cf.os));
  RETURN_IF_ERROR(OptionalString(doc, "architecture", what, &cf.architecture));
  RETURN_IF_ERROR(OptionalString(doc, "created", what, &cf.created));
  auto cfg = doc.find("config");
  if (cfg != doc.end() && !cfg->is_null()) {
    if (!cfg->is_object()) return Bad(what, "\"config\" is not an object");
    constexpr absl::string_view cw = "image config: config";
    RETURN_IF_ERROR(OptionalStringList(*cfg, "Entrypoint", cw, &cf.config.entrypoint));
    RETURN_IF_ERROR(OptionalStringList(*cfg, "Cmd", cw, &cf.config.cmd));
    RETURN_IF_ERROR(OptionalStringList(*cfg, "Env", cw, &cf.config.env));
    RETURN_IF_ERROR(OptionalString(*cfg, "WorkingDir", cw, &cf.config.working_dir));
    RETURN_IF_ERROR(OptionalString(*cfg, "User", cw, &cf.config.user));
    RETURN_IF_ERROR(OptionalString(*cfg, "StopSignal", cw, &cf.config.stop_signal));
    RETURN_IF_ERROR(OptionalStringMap(*cfg, "Labels", cw, &cf.config.labels));
    RETURN_IF_ERROR(OptionalHealthcheck(*cfg, cw, &cf.config.healthcheck));
  }
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || !rootfs->is_object()) return Bad(what, "no \"rootfs\" object");
  std::string type;
  RETURN_IF_ERROR(OptionalString(*rootfs, "type", "image config: rootfs", &type));
  if (type != "layers") return Bad(what, absl::StrCat("rootfs.type is \"", type, "\", not \"layers\""));
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) return Bad(what, "no rootfs.diff_ids array");
  for (size_t i = 0; i < ids->size(); ++i) {
    const Json& id = (*ids)[i];
    std::string where = absl::StrCat("image config: rootfs.diff_ids[", i, "]");
    if (!id.is_string()) return Bad(where, "not a string");
    std::string digest = id.get<std::string>();
    if (absl::Status st = ValidateDigest(digest); !st.ok()) return Bad(where, st.message());
    cf.diff_ids.push_back(std::move(digest));
  }
  return cf;
}

}  // namespace

bool IsManifestType(absl::string_view media_type) {
  return media_type == kOciManifest || media_type == kDockerManifest;
}

bool IsIndexType(absl::string_view media_type) {
  return media_type == kOciIndex || media_type == kDockerManifestList;
}

bool IsLayerType(absl::string_view media_type) {
  return media_type == kOciLayer || media_type == kOciLayerGzip || media_type == kOciLayerZstd ||
         media_type == kDockerLayerGzip;
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view json, absl::string_view media_type) {
  constexpr absl::string_view what = "image manifest";
  ASSIGN_OR_RETURN(Json doc, ParseObject(json, what));
  Manifest m;
  ASSIGN_OR_RETURN(m.media_type, ResolveType(doc, media_type, /*want_index=*/false, what));
  RETURN_IF_ERROR(CheckSchemaVersion(doc, what));
  auto config = doc.find("config");
  if (config == doc.end()) return Bad(what, "no config descriptor");
  ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, "image manifest: config", /*with_platform=*/false));
  auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) return Bad(what, "no layers array");
  for (size_t i = 0; i < layers->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor d,
                     ParseDescriptor((*layers)[i], absl::StrCat("image manifest: layers[", i, "]"), false));
    m.layers.push_back(std::move(d));
  }
  return m;
}

absl::StatusOr<Index> ParseIndex(absl::string_view json, absl::string_view media_type) {
  constexpr absl::string_view what = "image index";
  ASSIGN_OR_RETURN(Json doc, ParseObject(json, what));
  Index index;
  ASSIGN_OR_RETURN(index.media_type, ResolveType(doc, media_type, /*want_index=*/true, what));
  RETURN_IF_ERROR(CheckSchemaVersion(doc, what));
  auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array()) return Bad(what, "no manifests array");
  for (size_t i = 0; i < manifests->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor d,
                     ParseDescriptor((*manifests)[i], absl::StrCat("image index: manifests[", i, "]"), true));
    index.manifests.push_back(std::move(d));
  }
  return index;
}

std::string DetectMediaType(absl::string_view json) {
  Json doc = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return "";
  auto mt = doc.find("mediaType");
  if (mt != doc.end() && mt->is_string() && !mt->get<std::string>().empty()) return mt->get<std::string>();
  auto version = doc.find("schemaVersion");
  if (version != doc.end() && version->is_number_integer() && version->get<int64_t>() == 1) return kDockerSchema1;
  if (doc.contains("manifests")) return kOciIndex;
  if (doc.contains("layers")) return kOciManifest;
  return "";
}

absl::StatusOr<Descriptor> SelectPlatform(const Index& index, const std::string& os,
                                          const std::string& architecture) {
  // "arm/v7" asks for a variant. A plain architecture prefers its default variant (an entry
  // without one, or arm64/v8, amd64/v1) and otherwise takes the first entry of any variant
  // (arm images always name one).
  std::string arch = architecture;
  std::string variant;
  if (size_t slash = arch.find('/'); slash != std::string::npos) {
    variant = arch.substr(slash + 1);
    arch.resize(slash);
  }
  const Descriptor* fallback = nullptr;
  for (const Descriptor& d : index.manifests) {
    const Platform& p = d.platform;
    if (p.os != os || p.architecture != arch) continue;
    absl::string_view v = p.variant.empty() ? DefaultVariant(arch) : absl::string_view(p.variant);
    if (!variant.empty()) {
      if (v == variant) return d;
      continue;
    }
    if (v == DefaultVariant(arch)) return d;
    if (fallback == nullptr) fallback = &d;
  }
  if (fallback != nullptr) return *fallback;

  std::vector<std::string> have;
  std::set<std::string> seen;
  for (const Descriptor& d : index.manifests) {
    if (d.platform.os.empty() && d.platform.architecture.empty()) continue;
    std::string s = PlatformString(d.platform);
    if (seen.insert(s).second) have.push_back(std::move(s));
  }
  std::string want = absl::StrCat(os, "/", architecture);
  return absl::NotFoundError(absl::StrCat("no image for ", want, " in the index; it has ",
                                          have.empty() ? "no platforms" : absl::StrJoin(have, ", ")));
}

absl::StatusOr<ConfigFile> ParseConfig(absl::string_view json) {
  ASSIGN_OR_RETURN(Json doc, ParseObject(json, "image config"));
  return ParseConfigObject(doc);
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> chain;
  chain.reserve(diff_ids.size());
  for (const std::string& id : diff_ids) {
    chain.push_back(chain.empty() ? id : Sha256Of(absl::StrCat(chain.back(), " ", id)));
  }
  return chain;
}

}  // namespace berth::image
