// The CRI runtime.v1.RuntimeService: what the kubelet asks of a node's runtime.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/container_manager.h"
#include "agent/cri/cri_pod_network.h"
#include "agent/cri/streaming/streaming_server.h"
#include "agent/event_hub.h"
#include "cri/runtime/v1/api.grpc.pb.h"

namespace berth::agent::cri {

// The version of the CRI this service implements, as the kubelet reads it from Version.
inline constexpr char kCriApiVersion[] = "v1";

struct CriOptions {
  std::string init_path;        // berth-init: a pod sandbox's process is `berth-init --pause`
  EventHub* events = nullptr;   // GetContainerEvents' source
  std::string sandbox_image = "busybox";  // the root a sandbox runs in: the agent's own image
  // Exec, Attach and PortForward hand out its URLs; without it they answer UNAVAILABLE.
  streaming::StreamingServer* streaming = nullptr;
  // Pod networking through CNI when it has a configuration directory; else the agent's bridge.
  PodNetwork* pod_network = nullptr;
};

class CriRuntimeService final : public ::runtime::v1::RuntimeService::Service {
 public:
  CriRuntimeService(ContainerManager& containers, CriOptions options)
      : containers_(containers), options_(std::move(options)) {}

  grpc::Status Version(grpc::ServerContext*, const ::runtime::v1::VersionRequest*,
                       ::runtime::v1::VersionResponse*) override;
  grpc::Status Status(grpc::ServerContext*, const ::runtime::v1::StatusRequest*,
                      ::runtime::v1::StatusResponse*) override;
  grpc::Status UpdateRuntimeConfig(grpc::ServerContext*, const ::runtime::v1::UpdateRuntimeConfigRequest*,
                                   ::runtime::v1::UpdateRuntimeConfigResponse*) override;

  // Pod sandboxes (cri_sandboxes.cc).
  grpc::Status RunPodSandbox(grpc::ServerContext*, const ::runtime::v1::RunPodSandboxRequest*,
                             ::runtime::v1::RunPodSandboxResponse*) override;
  grpc::Status StopPodSandbox(grpc::ServerContext*, const ::runtime::v1::StopPodSandboxRequest*,
                              ::runtime::v1::StopPodSandboxResponse*) override;
  grpc::Status RemovePodSandbox(grpc::ServerContext*, const ::runtime::v1::RemovePodSandboxRequest*,
                                ::runtime::v1::RemovePodSandboxResponse*) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext*, const ::runtime::v1::PodSandboxStatusRequest*,
                                ::runtime::v1::PodSandboxStatusResponse*) override;
  grpc::Status ListPodSandbox(grpc::ServerContext*, const ::runtime::v1::ListPodSandboxRequest*,
                              ::runtime::v1::ListPodSandboxResponse*) override;

  // Containers (cri_containers.cc).
  grpc::Status CreateContainer(grpc::ServerContext*, const ::runtime::v1::CreateContainerRequest*,
                               ::runtime::v1::CreateContainerResponse*) override;
  grpc::Status StartContainer(grpc::ServerContext*, const ::runtime::v1::StartContainerRequest*,
                              ::runtime::v1::StartContainerResponse*) override;
  grpc::Status StopContainer(grpc::ServerContext*, const ::runtime::v1::StopContainerRequest*,
                             ::runtime::v1::StopContainerResponse*) override;
  grpc::Status RemoveContainer(grpc::ServerContext*, const ::runtime::v1::RemoveContainerRequest*,
                               ::runtime::v1::RemoveContainerResponse*) override;
  grpc::Status ListContainers(grpc::ServerContext*, const ::runtime::v1::ListContainersRequest*,
                              ::runtime::v1::ListContainersResponse*) override;
  grpc::Status ContainerStatus(grpc::ServerContext*, const ::runtime::v1::ContainerStatusRequest*,
                               ::runtime::v1::ContainerStatusResponse*) override;
  grpc::Status ExecSync(grpc::ServerContext*, const ::runtime::v1::ExecSyncRequest*,
                        ::runtime::v1::ExecSyncResponse*) override;
  grpc::Status ReopenContainerLog(grpc::ServerContext*, const ::runtime::v1::ReopenContainerLogRequest*,
                                  ::runtime::v1::ReopenContainerLogResponse*) override;

  // Usage and limits (cri_stats.cc).
  grpc::Status ContainerStats(grpc::ServerContext*, const ::runtime::v1::ContainerStatsRequest*,
                              ::runtime::v1::ContainerStatsResponse*) override;
  grpc::Status ListContainerStats(grpc::ServerContext*, const ::runtime::v1::ListContainerStatsRequest*,
                                  ::runtime::v1::ListContainerStatsResponse*) override;
  grpc::Status PodSandboxStats(grpc::ServerContext*, const ::runtime::v1::PodSandboxStatsRequest*,
                               ::runtime::v1::PodSandboxStatsResponse*) override;
  grpc::Status ListPodSandboxStats(grpc::ServerContext*, const ::runtime::v1::ListPodSandboxStatsRequest*,
                                   ::runtime::v1::ListPodSandboxStatsResponse*) override;
  grpc::Status UpdateContainerResources(grpc::ServerContext*, const ::runtime::v1::UpdateContainerResourcesRequest*,
                                        ::runtime::v1::UpdateContainerResourcesResponse*) override;

  // URLs of the streaming server (cri_streaming.cc).
  grpc::Status Exec(grpc::ServerContext*, const ::runtime::v1::ExecRequest*, ::runtime::v1::ExecResponse*) override;
  grpc::Status Attach(grpc::ServerContext*, const ::runtime::v1::AttachRequest*,
                      ::runtime::v1::AttachResponse*) override;
  grpc::Status PortForward(grpc::ServerContext*, const ::runtime::v1::PortForwardRequest*,
                           ::runtime::v1::PortForwardResponse*) override;

  // Events, checkpoints, metrics (cri_events.cc).
  grpc::Status GetContainerEvents(grpc::ServerContext*, const ::runtime::v1::GetEventsRequest*,
                                  grpc::ServerWriter<::runtime::v1::ContainerEventResponse>*) override;
  grpc::Status CheckpointContainer(grpc::ServerContext*, const ::runtime::v1::CheckpointContainerRequest*,
                                   ::runtime::v1::CheckpointContainerResponse*) override;
  grpc::Status ListMetricDescriptors(grpc::ServerContext*, const ::runtime::v1::ListMetricDescriptorsRequest*,
                                     ::runtime::v1::ListMetricDescriptorsResponse*) override;
  grpc::Status ListPodSandboxMetrics(grpc::ServerContext*, const ::runtime::v1::ListPodSandboxMetricsRequest*,
                                     ::runtime::v1::ListPodSandboxMetricsResponse*) override;

 private:
  // A CRI object by id (or unique id prefix) and kind: NOT_FOUND naming the kind otherwise.
  absl::StatusOr<v1::Container> FindObject(const std::string& id, const char* kind);
  // A streaming server URL for `request` (UNAVAILABLE without the server).
  absl::StatusOr<std::string> StreamUrl(streaming::StreamRequest request);
  // Every CRI object of `kind`.
  // LIST_VIEW_SUMMARY where ids, labels, state, image_id and times are all that is read: the
  // kubelet lists every second.
  absl::StatusOr<std::vector<v1::Container>> ListKind(const char* kind, v1::ListView view = v1::LIST_VIEW_FULL);
  // Removes a pod's container (killed first) and the kubelet's link to its log.
  absl::Status RemoveMember(const v1::Container& c);
  // The pod's containers (any state).
  absl::StatusOr<std::vector<v1::Container>> ContainersOf(const std::string& sandbox_id);

  // CRI stats of containers (figures for the running ones, attributes for all).
  absl::StatusOr<std::vector<::runtime::v1::ContainerStats>> StatsOf(const std::vector<v1::Container>& records);
  ::runtime::v1::ContainerStats ToCriStats(const v1::Container& record, const v1::ContainerStats* stats);
  absl::StatusOr<::runtime::v1::PodSandboxStats> PodStats(const v1::Container& sandbox);
  // CPU use in nanocores since the previous sample of the same container (0 for the first).
  uint64_t NanoCores(const std::string& id, int64_t now_ns, uint64_t usage_ns);

  ContainerManager& containers_;
  CriOptions options_;
  std::mutex mu_;
  struct CpuSample {
    int64_t time_ns;
    uint64_t usage_ns;
  };
  std::map<std::string, CpuSample> cpu_samples_ ABSL_GUARDED_BY(mu_);
  std::string pod_cidr_ ABSL_GUARDED_BY(mu_);  // the node's, from the kubelet; empty until told
};

// The CRI status of a sandbox's record (cri_sandboxes.cc) and of a container's (cri_containers.cc).
void PodStatusOf(const v1::Container& sandbox, ::runtime::v1::PodSandboxStatus* status);
void ContainerStatusOf(const v1::Container& container, ::runtime::v1::ContainerStatus* status);

// A pod CIDR as the kubelet sends it: one prefix or a comma-separated v4,v6 pair.
absl::Status ValidatePodCidr(const std::string& text);

}  // namespace berth::agent::cri
