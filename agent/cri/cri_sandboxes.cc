// CriRuntimeService: pod sandboxes. A sandbox is a Berth container whose only process is
// `berth-init --pause` (Berth's own static binary, bind-mounted; no pause image is pulled)
// running in the agent's own image: it holds the pod's net, ipc and uts namespaces (and pid
// when the pod shares one) for the pod's containers to join.
#include <spdlog/spdlog.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/cri/cri_labels.h"
#include "agent/cri/cri_runtime_service.h"
#include "agent/grpc_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

namespace {

constexpr char kPauseInContainer[] = "/.berth-pause";

cri::PodSandboxMetadata MetadataOf(const v1::Container& c) {
  cri::PodSandboxMetadata md;
  md.set_name(Label(c, kNameLabel));
  md.set_namespace_(Label(c, kNamespaceLabel));
  md.set_uid(Label(c, kUidLabel));
  uint32_t attempt = 0;
  (void)absl::SimpleAtoi(Label(c, kAttemptLabel), &attempt);
  md.set_attempt(attempt);
  return md;
}

cri::PodSandboxState StateOf(const v1::Container& c) {
  return c.state() == v1::RUNNING || c.state() == v1::PAUSED ? cri::SANDBOX_READY : cri::SANDBOX_NOTREADY;
}

// "network,pid,ipc" as the NamespaceMode numbers the pod was made with.
cri::NamespaceOption NamespaceOptionsOf(const v1::Container& c) {
  cri::NamespaceOption options;
  std::vector<std::string> parts = absl::StrSplit(Label(c, kNamespaceOptionsLabel), ',');
  int modes[3] = {0, 0, 0};
  for (size_t i = 0; i < parts.size() && i < 3; ++i) (void)absl::SimpleAtoi(parts[i], &modes[i]);
  options.set_network(static_cast<cri::NamespaceMode>(modes[0]));
  options.set_pid(static_cast<cri::NamespaceMode>(modes[1]));
  options.set_ipc(static_cast<cri::NamespaceMode>(modes[2]));
  return options;
}

}  // namespace

void PodStatusOf(const v1::Container& sandbox, cri::PodSandboxStatus* status) {
  status->set_id(sandbox.id());
  *status->mutable_metadata() = MetadataOf(sandbox);
  status->set_state(StateOf(sandbox));
  status->set_created_at(UnixNanos(sandbox.created_at()));
  const v1::NetworkSettings& net = sandbox.network_settings();
  if (net.mode() != "host") {
    status->mutable_network()->set_ip(net.ip_address());
    if (!net.ipv6_address().empty()) status->mutable_network()->add_additional_ips()->set_ip(net.ipv6_address());
  }
  *status->mutable_linux()->mutable_namespaces()->mutable_options() = NamespaceOptionsOf(sandbox);
  GetKubeletLabels(sandbox.labels(), status->mutable_labels(), status->mutable_annotations());
}

absl::StatusOr<v1::Container> CriRuntimeService::FindObject(const std::string& id, const char* kind) {
  const char* what = std::string(kind) == kSandboxKind ? "pod sandbox" : "container";
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat("a ", what, " id is required"));
  auto record = containers_.Inspect(id);
  if (absl::IsNotFound(record.status()) || (record.ok() && !IsKind(*record, kind))) {
    return absl::NotFoundError(absl::StrCat(what, " ", Quoted(id), " not found"));
  }
  return record;
}

absl::StatusOr<std::vector<v1::Container>> CriRuntimeService::ListKind(const char* kind, v1::ListView view) {
  return containers_.List(absl::StrCat(kKindLabel, "=", kind), {}, view);
}

absl::StatusOr<std::vector<v1::Container>> CriRuntimeService::ContainersOf(const std::string& sandbox_id) {
  return containers_.List(absl::StrCat(kKindLabel, "=", kContainerKind, ",", kSandboxIdLabel, "=", sandbox_id), {});
}

grpc::Status CriRuntimeService::RunPodSandbox(grpc::ServerContext*, const cri::RunPodSandboxRequest* req,
                                              cri::RunPodSandboxResponse* resp) {
  const cri::PodSandboxConfig& config = req->config();
  const cri::PodSandboxMetadata& md = config.metadata();
  if (md.name().empty() || md.namespace_().empty() || md.uid().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("config.metadata: name, namespace and uid are required"));
  }
  if (!req->runtime_handler().empty() && req->runtime_handler() != "berth") {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("runtime_handler ", Quoted(req->runtime_handler()), ": this node has only \"berth\" (or \"\")")));
  }
  const cri::LinuxPodSandboxConfig& linux = config.linux();
  const cri::LinuxSandboxSecurityContext& security = linux.security_context();
  const cri::NamespaceOption& ns = security.namespace_options();

  v1::ContainerConfig c;
  c.set_name(BerthName({"POD", md.name(), md.namespace_(), md.uid()}, md.attempt()));
  c.set_image(options_.sandbox_image);
  c.add_entrypoint(kPauseInContainer);
  c.add_command("--pause");
  v1::Mount* pause = c.add_mounts();
  pause->set_type(v1::MOUNT_TYPE_BIND);
  pause->set_source(options_.init_path);
  pause->set_destination(kPauseInContainer);
  pause->set_read_only(true);
  const bool cni = options_.pod_network != nullptr && options_.pod_network->cni() && ns.network() != cri::NODE;
  if (ns.network() == cri::NODE) {
    c.set_network("host");
  } else if (cni) {
    // A namespace of its own with only lo; the CNI plugins make the rest (hostPorts too).
    c.set_network("none");
    c.set_hostname(config.hostname());
  } else {
    c.set_hostname(config.hostname());
    for (const cri::PortMapping& p : config.port_mappings()) {
      if (p.host_port() <= 0) continue;  // only hostPorts are published on the node
      if (p.protocol() == cri::SCTP) {
        return ToGrpcStatus(absl::InvalidArgumentError("port_mappings: SCTP is not supported (tcp and udp are)"));
      }
      v1::PortMapping* port = c.add_ports();
      port->set_protocol(p.protocol() == cri::UDP ? "udp" : "tcp");
      port->set_host_ip(p.host_ip());
      port->set_host_port(static_cast<uint32_t>(p.host_port()));
      port->set_container_port(static_cast<uint32_t>(p.container_port()));
    }
  }
  if (ns.network() == cri::NODE) c.set_uts("host");  // a host-network pod has the node's name
  if (ns.ipc() == cri::NODE) c.set_ipc("host");
  if (ns.pid() == cri::NODE) c.set_pid("host");
  // The kubelet's pod cgroup (cgroupfs layout); the pod's containers go there too.
  c.set_cgroup_parent(linux.cgroup_parent());
  for (const std::string& s : config.dns_config().servers()) c.add_dns(s);
  for (const std::string& s : config.dns_config().searches()) c.add_dns_search(s);
  for (const std::string& o : config.dns_config().options()) c.add_dns_options(o);
  c.mutable_sysctls()->insert(linux.sysctls().begin(), linux.sysctls().end());
  c.mutable_security()->set_privileged(security.privileged());
  c.mutable_security()->set_read_only_rootfs(security.readonly_rootfs());

  auto& labels = *c.mutable_labels();
  PutKubeletLabels(config.labels(), config.annotations(), labels);
  labels[kViewLabel] = kView;
  labels[kKindLabel] = kSandboxKind;
  labels[kNameLabel] = md.name();
  labels[kNamespaceLabel] = md.namespace_();
  labels[kUidLabel] = md.uid();
  labels[kAttemptLabel] = std::to_string(md.attempt());
  labels[kNamespaceOptionsLabel] = absl::StrCat(ns.network(), ",", ns.pid(), ",", ns.ipc());

  if (!config.log_directory().empty()) {
    if (config.log_directory()[0] != '/') {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("log_directory must be an absolute path, got ", Quoted(config.log_directory()))));
    }
    if (absl::Status st = MakeDirs(config.log_directory(), 0755); !st.ok()) return ToGrpcStatus(st);
  }
  auto created = containers_.Create(c);
  if (!created.ok()) return ToGrpcStatus(created.status());
  auto started = containers_.Start(created->id());
  if (!started.ok()) {
    // Nothing half-made: the sandbox goes with its network lease and cgroup.
    if (absl::Status st = containers_.Remove(created->id(), /*force=*/true); !st.ok()) {
      spdlog::warn("pod sandbox {}: removing after a failed start: {}", created->id(), std::string(st.message()));
    }
    return ToGrpcStatus(started.status());
  }
  if (cni) {
    auto addresses = options_.pod_network->Setup(created->id(), started->pid(), config);
    if (!addresses.ok()) {
      if (absl::Status st = containers_.Remove(created->id(), /*force=*/true); !st.ok()) {
        spdlog::warn("pod sandbox {}: removing after a failed CNI ADD: {}", created->id(), std::string(st.message()));
      }
      return ToGrpcStatus(addresses.status());
    }
  }
  resp->set_pod_sandbox_id(created->id());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::StopPodSandbox(grpc::ServerContext*, const cri::StopPodSandboxRequest* req,
                                               cri::StopPodSandboxResponse*) {
  auto sandbox = FindObject(req->pod_sandbox_id(), kSandboxKind);
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  auto members = ContainersOf(sandbox->id());
  if (!members.ok()) return ToGrpcStatus(members.status());
  // The kubelet stopped them gracefully already; what still runs is killed.
  for (const v1::Container& m : *members) {
    if (m.state() == v1::EXITED || m.state() == v1::CREATED) continue;
    auto stopped = containers_.Stop(m.id(), 0, 0);
    if (!stopped.ok() && !absl::IsNotFound(stopped.status())) return ToGrpcStatus(stopped.status());
  }
  if (sandbox->state() != v1::EXITED && sandbox->state() != v1::CREATED) {
    auto stopped = containers_.Stop(sandbox->id(), 0, 10);
    if (!stopped.ok() && !absl::IsNotFound(stopped.status())) return ToGrpcStatus(stopped.status());
  }
  // The pinned namespace outlives the sandbox's process, so DEL finds the pod's interface.
  if (options_.pod_network != nullptr) {
    if (absl::Status st = options_.pod_network->Teardown(sandbox->id()); !st.ok()) return ToGrpcStatus(st);
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::RemovePodSandbox(grpc::ServerContext*, const cri::RemovePodSandboxRequest* req,
                                                 cri::RemovePodSandboxResponse*) {
  auto sandbox = FindObject(req->pod_sandbox_id(), kSandboxKind);
  if (absl::IsNotFound(sandbox.status())) return grpc::Status::OK;  // removed already
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  auto members = ContainersOf(sandbox->id());
  if (!members.ok()) return ToGrpcStatus(members.status());
  for (const v1::Container& m : *members) {
    if (absl::Status st = RemoveMember(m); !st.ok()) return ToGrpcStatus(st);
  }
  if (options_.pod_network != nullptr) {
    if (absl::Status st = options_.pod_network->Teardown(sandbox->id()); !st.ok()) return ToGrpcStatus(st);
  }
  absl::Status st = containers_.Remove(sandbox->id(), /*force=*/true);
  if (!st.ok() && !absl::IsNotFound(st)) return ToGrpcStatus(st);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::PodSandboxStatus(grpc::ServerContext*, const cri::PodSandboxStatusRequest* req,
                                                 cri::PodSandboxStatusResponse* resp) {
  auto sandbox = FindObject(req->pod_sandbox_id(), kSandboxKind);
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  PodStatusOf(*sandbox, resp->mutable_status());
  const v1::NetworkSettings& net = sandbox->network_settings();
  if (options_.pod_network != nullptr) {
    std::vector<std::string> addresses = options_.pod_network->Addresses(sandbox->id());
    if (!addresses.empty()) {
      auto* network = resp->mutable_status()->mutable_network();
      network->set_ip(addresses[0]);
      network->clear_additional_ips();
      for (size_t i = 1; i < addresses.size(); ++i) network->add_additional_ips()->set_ip(addresses[i]);
    }
  }
  resp->set_timestamp(absl::ToUnixNanos(absl::Now()));
  if (req->verbose()) {
    (*resp->mutable_info())["info"] =
        absl::StrCat("{\"pid\":", sandbox->pid(), ",\"name\":\"", sandbox->name(), "\",\"network\":\"", net.mode(), "\"}");
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandbox(grpc::ServerContext*, const cri::ListPodSandboxRequest* req,
                                               cri::ListPodSandboxResponse* resp) {
  auto sandboxes = ListKind(kSandboxKind, v1::LIST_VIEW_SUMMARY);
  if (!sandboxes.ok()) return ToGrpcStatus(sandboxes.status());
  const cri::PodSandboxFilter& filter = req->filter();
  for (const v1::Container& s : *sandboxes) {
    if (!filter.id().empty() && s.id().rfind(filter.id(), 0) != 0) continue;
    if (filter.has_state() && StateOf(s) != filter.state().state()) continue;
    if (!MatchesSelector(s, filter.label_selector())) continue;
    cri::PodSandbox* out = resp->add_items();
    out->set_id(s.id());
    *out->mutable_metadata() = MetadataOf(s);
    out->set_state(StateOf(s));
    out->set_created_at(UnixNanos(s.created_at()));
    GetKubeletLabels(s.labels(), out->mutable_labels(), out->mutable_annotations());
  }
  return grpc::Status::OK;
}

}  // namespace berth::agent::cri
