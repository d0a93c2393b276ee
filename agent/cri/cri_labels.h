// CRI objects are Berth containers: what the CRI knows of them (kind, pod, metadata, the
// kubelet's labels and annotations) is kept in their labels, so that `berth ps --filter
// label=io.berth.view=k8s.io` shows a node's pods to a person and the agent needs no second
// store that could disagree with its records.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "berth/v1/containers.pb.h"
#include "cri/runtime/v1/api.pb.h"

namespace berth::agent::cri {

inline constexpr char kViewLabel[] = "io.berth.view";  // "k8s.io" on every CRI object
inline constexpr char kView[] = "k8s.io";
inline constexpr char kKindLabel[] = "io.berth.cri.kind";  // "sandbox" or "container"
inline constexpr char kSandboxKind[] = "sandbox";
inline constexpr char kContainerKind[] = "container";
inline constexpr char kSandboxIdLabel[] = "io.berth.cri.sandbox-id";  // a container's pod
inline constexpr char kNameLabel[] = "io.berth.cri.name";
inline constexpr char kNamespaceLabel[] = "io.berth.cri.namespace";  // pods only
inline constexpr char kUidLabel[] = "io.berth.cri.uid";              // pods only
inline constexpr char kAttemptLabel[] = "io.berth.cri.attempt";
inline constexpr char kLogPathLabel[] = "io.berth.cri.log-path";     // containers: the kubelet's path
inline constexpr char kImageLabel[] = "io.berth.cri.image";          // containers: the image as asked for
inline constexpr char kNamespaceOptionsLabel[] = "io.berth.cri.namespace-options";  // pods: "net,pid,ipc" modes
inline constexpr char kAnnotationPrefix[] = "io.berth.cri.annotation.";

// The kubelet's labels as they are, its annotations under kAnnotationPrefix, beside the
// Berth-owned ones (a kubelet label cannot overwrite those).
void PutKubeletLabels(const google::protobuf::Map<std::string, std::string>& labels,
                      const google::protobuf::Map<std::string, std::string>& annotations,
                      google::protobuf::Map<std::string, std::string>& into);
// Back out of a record's labels.
void GetKubeletLabels(const google::protobuf::Map<std::string, std::string>& from,
                      google::protobuf::Map<std::string, std::string>* labels,
                      google::protobuf::Map<std::string, std::string>* annotations);

// The value of label `key` of a record, or "".
std::string Label(const v1::Container& record, const char* key);
// Whether a record is a CRI object of `kind`.
bool IsKind(const v1::Container& record, const char* kind);
// Every pair of `selector` is among the kubelet's labels of `record`.
bool MatchesSelector(const v1::Container& record, const google::protobuf::Map<std::string, std::string>& selector);

// A Berth container name from CRI metadata, kubelet style (k8s_POD_NAME_NAMESPACE_UID_ATTEMPT,
// k8s_CONTAINER_POD_NAMESPACE_UID_ATTEMPT), kept to Berth's name rules: other characters
// become '-', at most 128 characters.
std::string BerthName(const std::vector<std::string>& parts, uint32_t attempt);

// Nanoseconds since the epoch, as the CRI carries times (0 for unset).
int64_t UnixNanos(const google::protobuf::Timestamp& t);

}  // namespace berth::agent::cri
