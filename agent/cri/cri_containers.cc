// CriRuntimeService: a pod's containers. Each is a Berth container that joins its sandbox's
// network, ipc and uts namespaces (and pid when the pod shares one), with the kubelet's
// command, mounts, security context and limits turned into a berth.v1 config.
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/cri/cri_labels.h"
#include "agent/cri/cri_runtime_service.h"
#include "agent/grpc_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

namespace {

cri::ContainerState StateOf(const v1::Container& c) {
  switch (c.state()) {
    case v1::CREATED:
      return cri::CONTAINER_CREATED;
    case v1::RUNNING:
    case v1::PAUSED:
      return cri::CONTAINER_RUNNING;
    case v1::EXITED:
      return cri::CONTAINER_EXITED;
    default:
      return cri::CONTAINER_UNKNOWN;
  }
}

cri::ContainerMetadata MetadataOf(const v1::Container& c) {
  cri::ContainerMetadata md;
  md.set_name(Label(c, kNameLabel));
  uint32_t attempt = 0;
  (void)absl::SimpleAtoi(Label(c, kAttemptLabel), &attempt);
  md.set_attempt(attempt);
  return md;
}

// The seccomp profile of a security context: "" (Berth's default), "unconfined", or the
// JSON of a Localhost profile file.
// The berth.v1 seccomp_profile for the CRI's: `profile` when the kubelet sent one, else the
// deprecated path. Neither means unconfined, as the CRI defines it (the kubelet asks for
// RuntimeDefault explicitly, with its SeccompDefault feature).
absl::StatusOr<std::string> SeccompOf(const cri::SecurityProfile* profile, const std::string& legacy_path) {
  if (profile != nullptr) {
    switch (profile->profile_type()) {
      case cri::SecurityProfile::RuntimeDefault:
        return std::string();
      case cri::SecurityProfile::Unconfined:
        return std::string("unconfined");
      case cri::SecurityProfile::Localhost: {
        const std::string& path = profile->localhost_ref();
        if (path.empty() || path[0] != '/') {
          return absl::InvalidArgumentError(
              absl::StrCat("seccomp: a Localhost profile needs an absolute localhost_ref, got ", Quoted(path)));
        }
        auto text = ReadFile(path);
        if (!text.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("seccomp: cannot read the Localhost profile ", Quoted(path), ": ", text.status().message()));
        }
        return *text;
      }
      default:
        return absl::InvalidArgumentError("seccomp: unknown profile_type");
    }
  }
  // The deprecated field: "runtime/default", "docker/default", "unconfined" or
  // "localhost/PATH" (a bare path is refused, as the CRI's conformance suite expects).
  if (legacy_path.empty() || legacy_path == "unconfined") return std::string("unconfined");
  if (legacy_path == "runtime/default" || legacy_path == "docker/default") return std::string();
  if (legacy_path.rfind("localhost/", 0) == 0) {
    const std::string path = legacy_path.substr(std::string("localhost").size());
    cri::SecurityProfile local;
    local.set_profile_type(cri::SecurityProfile::Localhost);
    local.set_localhost_ref(path);
    return SeccompOf(&local, "");
  }
  return absl::InvalidArgumentError(absl::StrCat("seccomp_profile_path ", Quoted(legacy_path),
                                                 " is not understood (want runtime/default, unconfined or "
                                                 "localhost/<absolute path>)"));
}

// The berth.v1 config of a CRI container in `sandbox`.
absl::StatusOr<v1::ContainerConfig> ConfigFor(const cri::ContainerConfig& config, const v1::Container& sandbox) {
  const cri::ContainerMetadata& md = config.metadata();
  if (md.name().empty()) return absl::InvalidArgumentError("config.metadata.name is required");
  if (config.image().image().empty()) return absl::InvalidArgumentError("config.image.image is required");
  v1::ContainerConfig c;
  c.set_name(BerthName({md.name(), Label(sandbox, kNameLabel), Label(sandbox, kNamespaceLabel),
                        Label(sandbox, kUidLabel)},
                       md.attempt()));
  c.set_image(config.image().image());
  // Kubernetes' command replaces the image's entrypoint (and drops its cmd); args replace cmd.
  for (const std::string& a : config.command()) c.add_entrypoint(a);
  for (const std::string& a : config.args()) c.add_command(a);
  for (const cri::KeyValue& kv : config.envs()) c.add_env(absl::StrCat(kv.key(), "=", kv.value()));
  c.set_working_dir(config.working_dir());
  c.set_tty(config.tty());
  c.set_open_stdin(config.stdin());
  for (const cri::Mount& m : config.mounts()) {
    if (m.container_path().empty() || m.host_path().empty()) {
      return absl::InvalidArgumentError("mounts: container_path and host_path are required");
    }
    v1::Mount* mount = c.add_mounts();
    mount->set_type(v1::MOUNT_TYPE_BIND);
    mount->set_source(m.host_path());
    mount->set_destination(m.container_path());
    mount->set_read_only(m.readonly());
    if (m.propagation() == cri::PROPAGATION_HOST_TO_CONTAINER) mount->set_propagation("rslave");
    if (m.propagation() == cri::PROPAGATION_BIDIRECTIONAL) mount->set_propagation("rshared");
  }
  for (const cri::Device& d : config.devices()) {
    v1::DeviceMapping* device = c.mutable_security()->add_devices();
    device->set_host_path(d.host_path());
    device->set_container_path(d.container_path());
    device->set_permissions(d.permissions());
  }

  // The pod's namespaces: network, ipc and uts always; pid when the pod shares one.
  const cri::LinuxContainerSecurityContext& sc = config.linux().security_context();
  const std::string pod = absl::StrCat("container:", sandbox.id());
  const bool host_network = sandbox.network_settings().mode() == "host";
  c.set_network(host_network ? "host" : pod);
  c.set_cgroup_parent(sandbox.config().cgroup_parent());
  c.set_ipc(sandbox.config().ipc() == "host" ? "host" : pod);
  c.set_uts(host_network ? "host" : pod);
  // The pod's DNS settings (its resolv.conf is written for each container).
  for (const std::string& s : sandbox.config().dns()) c.add_dns(s);
  for (const std::string& s : sandbox.config().dns_search()) c.add_dns_search(s);
  for (const std::string& o : sandbox.config().dns_options()) c.add_dns_options(o);
  switch (sc.namespace_options().pid()) {
    case cri::POD:
      c.set_pid(sandbox.config().pid() == "host" ? "host" : pod);
      break;
    case cri::NODE:
      c.set_pid("host");
      break;
    case cri::TARGET:
      if (sc.namespace_options().target_id().empty()) {
        return absl::InvalidArgumentError("namespace_options: pid TARGET needs target_id");
      }
      c.set_pid(absl::StrCat("container:", sc.namespace_options().target_id()));
      break;
    default:
      break;  // CONTAINER: its own
  }

  // Security context.
  v1::SecurityOptions* sec = c.mutable_security();
  sec->set_privileged(sc.privileged());
  sec->set_read_only_rootfs(sc.readonly_rootfs());
  for (const std::string& cap : sc.capabilities().add_capabilities()) sec->add_cap_add(cap);
  for (const std::string& cap : sc.capabilities().drop_capabilities()) sec->add_cap_drop(cap);
  if (!sc.privileged()) {
    auto seccomp = SeccompOf(sc.has_seccomp() ? &sc.seccomp() : nullptr, sc.seccomp_profile_path());
    if (!seccomp.ok()) return seccomp.status();
    sec->set_seccomp_profile(*seccomp);
  }
  // Always said: the CRI's false is Kubernetes' allowPrivilegeEscalation (true unless the pod
  // says otherwise), where Berth's own API, left unset, would turn no_new_privs on.
  sec->set_no_new_privileges(sc.no_new_privs());
  // The kubelet sends the whole lists (empty: the runtime's defaults).
  for (const std::string& p : sc.masked_paths()) sec->add_masked_paths(p);
  for (const std::string& p : sc.readonly_paths()) sec->add_readonly_paths(p);
  std::string user;
  if (sc.has_run_as_user()) {
    if (sc.run_as_user().value() < 0) return absl::InvalidArgumentError("run_as_user must not be negative");
    user = std::to_string(sc.run_as_user().value());
  } else if (!sc.run_as_username().empty()) {
    user = sc.run_as_username();
  }
  if (sc.has_run_as_group()) {
    if (user.empty()) return absl::InvalidArgumentError("run_as_group needs run_as_user or run_as_username");
    absl::StrAppend(&user, ":", sc.run_as_group().value());
  }
  c.set_user(user);
  for (int64_t g : sc.supplemental_groups()) {
    if (g < 0 || g > UINT32_MAX) return absl::InvalidArgumentError("supplemental_groups: a gid out of range");
    c.add_additional_gids(static_cast<uint32_t>(g));
  }

  // Limits, in the kubelet's units.
  const cri::LinuxContainerResources& r = config.linux().resources();
  v1::Resources* res = c.mutable_resources();
  if (r.memory_limit_in_bytes() > 0) res->set_memory_limit_bytes(r.memory_limit_in_bytes());
  if (r.cpu_quota() > 0) {
    const int64_t period = r.cpu_period() > 0 ? r.cpu_period() : 100000;
    res->set_cpu_millis(std::max<int64_t>(1, r.cpu_quota() * 1000 / period));
  }
  if (r.cpu_shares() > 0) res->set_cpu_shares(std::max<int64_t>(2, r.cpu_shares()));

  auto& labels = *c.mutable_labels();
  PutKubeletLabels(config.labels(), config.annotations(), labels);
  labels[kViewLabel] = kView;
  labels[kKindLabel] = kContainerKind;
  labels[kSandboxIdLabel] = sandbox.id();
  labels[kNameLabel] = md.name();
  labels[kAttemptLabel] = std::to_string(md.attempt());
  labels[kImageLabel] = config.image().image();
  return c;
}

// The kubelet's log file for a container: log_directory (the pod's) / log_path.
std::string KubeletLogPath(const cri::CreateContainerRequest& req) {
  if (req.config().log_path().empty() || req.sandbox_config().log_directory().empty()) return "";
  return absl::StrCat(req.sandbox_config().log_directory(), "/", req.config().log_path());
}

}  // namespace

void ContainerStatusOf(const v1::Container& c, cri::ContainerStatus* status) {
  status->set_id(c.id());
  *status->mutable_metadata() = MetadataOf(c);
  status->set_state(StateOf(c));
  status->set_created_at(UnixNanos(c.created_at()));
  if (c.state() != v1::CREATED) status->set_started_at(UnixNanos(c.started_at()));
  if (c.state() == v1::EXITED) {
    status->set_finished_at(UnixNanos(c.finished_at()));
    status->set_exit_code(c.exit_code());
    status->set_reason(c.oom_killed() ? "OOMKilled" : c.exit_code() == 0 ? "Completed" : "Error");
    status->set_message(c.error());
  }
  status->mutable_image()->set_image(Label(c, kImageLabel));
  status->set_image_ref(c.image_id());
  GetKubeletLabels(c.labels(), status->mutable_labels(), status->mutable_annotations());
  for (const v1::Mount& m : c.config().mounts()) {
    if (m.type() != v1::MOUNT_TYPE_BIND) continue;
    cri::Mount* out = status->add_mounts();
    out->set_container_path(m.destination());
    out->set_host_path(m.source());
    out->set_readonly(m.read_only());
    if (m.propagation() == "rslave") out->set_propagation(cri::PROPAGATION_HOST_TO_CONTAINER);
    if (m.propagation() == "rshared") out->set_propagation(cri::PROPAGATION_BIDIRECTIONAL);
  }
  status->set_log_path(Label(c, kLogPathLabel));
  const v1::Resources& r = c.resources();  // as updated since the create
  cri::LinuxContainerResources* linux = status->mutable_resources()->mutable_linux();
  linux->set_memory_limit_in_bytes(r.memory_limit_bytes());
  linux->set_cpu_shares(r.cpu_shares());
  if (r.cpu_millis() > 0) {
    linux->set_cpu_period(100000);
    linux->set_cpu_quota(r.cpu_millis() * 100);
  }
}

grpc::Status CriRuntimeService::CreateContainer(grpc::ServerContext*, const cri::CreateContainerRequest* req,
                                                cri::CreateContainerResponse* resp) {
  auto sandbox = FindObject(req->pod_sandbox_id(), kSandboxKind);
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  if (sandbox->state() != v1::RUNNING) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("pod sandbox ", Quoted(sandbox->id()), " is not ready (stopped); run a new one")));
  }
  auto config = ConfigFor(req->config(), *sandbox);
  if (!config.ok()) return ToGrpcStatus(config.status());
  const std::string log_path = KubeletLogPath(*req);
  if (!log_path.empty()) {
    if (log_path[0] != '/' || log_path.find("/../") != std::string::npos) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("log path ", Quoted(log_path), " is not absolute and clean")));
    }
    (*config->mutable_labels())[kLogPathLabel] = log_path;
    // The shim writes the CRI-format log right where the kubelet reads it, and the kubelet
    // rotates it (ReopenContainerLog).
    config->mutable_log()->set_path(log_path);
    const std::string dir = log_path.substr(0, log_path.find_last_of('/'));
    if (absl::Status st = MakeDirs(dir, 0755); !st.ok()) return ToGrpcStatus(st);
  }
  auto created = containers_.Create(*config);
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_container_id(created->id());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::StartContainer(grpc::ServerContext*, const cri::StartContainerRequest* req,
                                               cri::StartContainerResponse*) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  auto started = containers_.Start(c->id());
  if (!started.ok()) return ToGrpcStatus(started.status());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::StopContainer(grpc::ServerContext*, const cri::StopContainerRequest* req,
                                              cri::StopContainerResponse*) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  if (c->state() == v1::EXITED || c->state() == v1::CREATED) return grpc::Status::OK;
  if (req->timeout() < 0) return ToGrpcStatus(absl::InvalidArgumentError("timeout must not be negative"));
  auto stopped = containers_.Stop(c->id(), 0, static_cast<int>(std::min<int64_t>(req->timeout(), INT32_MAX)));
  if (!stopped.ok()) return ToGrpcStatus(stopped.status());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::RemoveContainer(grpc::ServerContext*, const cri::RemoveContainerRequest* req,
                                                cri::RemoveContainerResponse*) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (absl::IsNotFound(c.status())) return grpc::Status::OK;  // removed already
  if (!c.ok()) return ToGrpcStatus(c.status());
  return ToGrpcStatus(RemoveMember(*c));
}

absl::Status CriRuntimeService::RemoveMember(const v1::Container& c) {
  absl::Status st = containers_.Remove(c.id(), /*force=*/true);
  if (!st.ok() && !absl::IsNotFound(st)) return st;
  // Its log goes with it (the files the kubelet rotated away are the kubelet's).
  const std::string log = Label(c, kLogPathLabel);
  if (!log.empty()) {
    struct stat st;
    if (::lstat(log.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(log.c_str());
  }
  return absl::OkStatus();
}

grpc::Status CriRuntimeService::ListContainers(grpc::ServerContext*, const cri::ListContainersRequest* req,
                                               cri::ListContainersResponse* resp) {
  auto all = ListKind(kContainerKind, v1::LIST_VIEW_SUMMARY);
  if (!all.ok()) return ToGrpcStatus(all.status());
  const cri::ContainerFilter& filter = req->filter();
  for (const v1::Container& c : *all) {
    if (!filter.id().empty() && c.id().rfind(filter.id(), 0) != 0) continue;
    if (!filter.pod_sandbox_id().empty() && Label(c, kSandboxIdLabel).rfind(filter.pod_sandbox_id(), 0) != 0) continue;
    if (filter.has_state() && StateOf(c) != filter.state().state()) continue;
    if (!MatchesSelector(c, filter.label_selector())) continue;
    cri::Container* out = resp->add_containers();
    out->set_id(c.id());
    out->set_pod_sandbox_id(Label(c, kSandboxIdLabel));
    *out->mutable_metadata() = MetadataOf(c);
    out->mutable_image()->set_image(Label(c, kImageLabel));
    out->set_image_ref(c.image_id());
    out->set_state(StateOf(c));
    out->set_created_at(UnixNanos(c.created_at()));
    GetKubeletLabels(c.labels(), out->mutable_labels(), out->mutable_annotations());
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ContainerStatus(grpc::ServerContext*, const cri::ContainerStatusRequest* req,
                                                cri::ContainerStatusResponse* resp) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  ContainerStatusOf(*c, resp->mutable_status());
  if (req->verbose()) {
    (*resp->mutable_info())["info"] =
        absl::StrCat("{\"pid\":", c->pid(), ",\"name\":\"", c->name(), "\",\"sandboxID\":\"", Label(*c, kSandboxIdLabel), "\"}");
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ReopenContainerLog(grpc::ServerContext*, const cri::ReopenContainerLogRequest* req,
                                                   cri::ReopenContainerLogResponse*) {
  // Only the record is read (its lock is never held across a lifecycle step): a container
  // busy stopping does not hold this up.
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  return ToGrpcStatus(containers_.ReopenLog(c->id()));
}

grpc::Status CriRuntimeService::ExecSync(grpc::ServerContext* ctx, const cri::ExecSyncRequest* req,
                                         cri::ExecSyncResponse* resp) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  if (req->cmd().empty()) return ToGrpcStatus(absl::InvalidArgumentError("cmd is required"));
  if (req->timeout() < 0) return ToGrpcStatus(absl::InvalidArgumentError("timeout must not be negative"));
  v1::ProcessSpec process;
  for (const std::string& a : req->cmd()) process.add_args(a);
  // 0: no timeout of its own (the caller's deadline still ends it).
  const absl::Time deadline = req->timeout() > 0 ? absl::Now() + absl::Seconds(req->timeout()) : absl::InfiniteFuture();
  constexpr size_t kMaxOutput = 16 << 20;  // the kubelet's own cap on ExecSync output
  auto ran = containers_.ExecToCompletion(c->id(), process, deadline, kMaxOutput,
                                          [ctx] { return ctx->IsCancelled(); }, /*announce=*/true);
  if (!ran.ok()) return ToGrpcStatus(ran.status());
  if (ran->timed_out && !ctx->IsCancelled()) {
    return ToGrpcStatus(absl::DeadlineExceededError(
        absl::StrCat("command ", Quoted(req->cmd(0)), " timed out after ", req->timeout(), " s; it was killed")));
  }
  if (!ran->exit_code) return ToGrpcStatus(absl::UnavailableError("the command's exit status was not reported"));
  resp->set_stdout(ran->out);
  resp->set_stderr(ran->err);
  resp->set_exit_code(*ran->exit_code);
  return grpc::Status::OK;
}

}  // namespace berth::agent::cri
