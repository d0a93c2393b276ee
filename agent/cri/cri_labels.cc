#include "agent/cri/cri_labels.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::agent::cri {

void PutKubeletLabels(const google::protobuf::Map<std::string, std::string>& labels,
                      const google::protobuf::Map<std::string, std::string>& annotations,
                      google::protobuf::Map<std::string, std::string>& into) {
  for (const auto& [k, v] : labels) {
    if (!absl::StartsWith(k, "io.berth.")) into[k] = v;
  }
  for (const auto& [k, v] : annotations) into[absl::StrCat(kAnnotationPrefix, k)] = v;
}

void GetKubeletLabels(const google::protobuf::Map<std::string, std::string>& from,
                      google::protobuf::Map<std::string, std::string>* labels,
                      google::protobuf::Map<std::string, std::string>* annotations) {
  for (const auto& [k, v] : from) {
    if (absl::StartsWith(k, kAnnotationPrefix)) {
      if (annotations != nullptr) (*annotations)[k.substr(sizeof(kAnnotationPrefix) - 1)] = v;
    } else if (!absl::StartsWith(k, "io.berth.")) {
      if (labels != nullptr) (*labels)[k] = v;
    }
  }
}

std::string Label(const v1::Container& record, const char* key) {
  auto it = record.labels().find(key);
  return it == record.labels().end() ? "" : it->second;
}

bool IsKind(const v1::Container& record, const char* kind) {
  auto it = record.labels().find(kKindLabel);
  return it != record.labels().end() && it->second == kind;
}

bool MatchesSelector(const v1::Container& record, const google::protobuf::Map<std::string, std::string>& selector) {
  for (const auto& [k, v] : selector) {
    if (absl::StartsWith(k, "io.berth.")) return false;
    auto it = record.labels().find(k);
    if (it == record.labels().end() || it->second != v) return false;
  }
  return true;
}

std::string BerthName(const std::vector<std::string>& parts, uint32_t attempt) {
  std::string out = absl::StrCat("k8s_", absl::StrJoin(parts, "_"), "_", attempt);
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (!ok) c = '-';
  }
  if (out.size() > 128) out.resize(128);
  return out;
}

int64_t UnixNanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000000LL + t.nanos();
}

}  // namespace berth::agent::cri
