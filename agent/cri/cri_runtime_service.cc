#include "agent/cri/cri_runtime_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/grpc_status.h"
#include "runtime/base/quote.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/ipv6.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

absl::Status ValidatePodCidr(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("pod_cidr: at most one IPv4 and one IPv6 prefix, got ", Quoted(text)));
  }
  for (const std::string& part : parts) {
    bool v6 = part.find(':') != std::string::npos;
    absl::Status st = v6 ? net::ParseIpv6Prefix(part, "pod_cidr").status() : net::ParseIpv4Prefix(part, "pod_cidr").status();
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

grpc::Status CriRuntimeService::Version(grpc::ServerContext*, const cri::VersionRequest*, cri::VersionResponse* resp) {
  // `version` is the kubelet-facing API version string every CRI runtime reports.
  resp->set_version("0.1.0");
  resp->set_runtime_name("berth");
  resp->set_runtime_version(BERTH_VERSION);
  resp->set_runtime_api_version(kCriApiVersion);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::Status(grpc::ServerContext*, const cri::StatusRequest* req, cri::StatusResponse* resp) {
  cri::RuntimeCondition* runtime = resp->mutable_status()->add_conditions();
  runtime->set_type("RuntimeReady");
  runtime->set_status(true);
  cri::RuntimeCondition* network = resp->mutable_status()->add_conditions();
  network->set_type("NetworkReady");
  // Pods get the agent's own bridge network, which the agent set up before serving, or the
  // CNI plugins, once a configuration and its plugins are there.
  absl::Status network_ready =
      options_.pod_network != nullptr && options_.pod_network->cni() ? options_.pod_network->Ready() : absl::OkStatus();
  network->set_status(network_ready.ok());
  if (!network_ready.ok()) {
    network->set_reason("NetworkPluginNotReady");
    network->set_message(std::string(network_ready.message()));
  }
  if (req->verbose()) {
    std::lock_guard<std::mutex> lock(mu_);
    (*resp->mutable_info())["config"] =
        absl::StrCat("{\"podCIDR\":\"", pod_cidr_, "\",\"network\":\"",
                     options_.pod_network != nullptr && options_.pod_network->cni() ? "cni" : "bridge", "\"}");
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::UpdateRuntimeConfig(grpc::ServerContext*, const cri::UpdateRuntimeConfigRequest* req,
                                                    cri::UpdateRuntimeConfigResponse*) {
  const std::string& cidr = req->runtime_config().network_config().pod_cidr();
  if (cidr.empty()) return grpc::Status::OK;  // nothing to change
  if (absl::Status st = ValidatePodCidr(cidr); !st.ok()) return ToGrpcStatus(st);
  std::lock_guard<std::mutex> lock(mu_);
  pod_cidr_ = cidr;
  return grpc::Status::OK;
}

}  // namespace berth::agent::cri
