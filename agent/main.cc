// berthd: the Berth node agent. Serves berth.v1 (plus health and reflection) on a Unix
// socket; containers run under their own berth-shim and outlive this process.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "agent/config.h"
#include "agent/daemon_flags.h"
#include "agent/etc_files.h"
#include "agent/container_manager.h"
#include "agent/containers_service.h"
#include "agent/cri/cri_endpoint.h"
#include "agent/cri/cri_image_service.h"
#include "agent/cri/cri_runtime_service.h"
#include "agent/image/image_store.h"
#include "agent/images_service.h"
#include "agent/logging.h"
#include "agent/network_manager.h"
#include "agent/audit_log.h"
#include "agent/authz.h"
#include "agent/call_gate.h"
#include "agent/event_hub.h"
#include "agent/event_journal.h"
#include "agent/events_service.h"
#include "agent/health_service.h"
#include "agent/metrics_page.h"
#include "agent/metrics_server.h"
#include "agent/listeners.h"
#include "agent/memory_release.h"
#include "agent/networks_service.h"
#include "agent/volumes_service.h"
#include "agent/userns_pool.h"
#include "cli/man_page.h"
#include "grpc/health/v1/health.pb.h"
#include "runtime/base/file_util.h"
#include "runtime/base/sealed_copy.h"
#include "runtime/cgroup/cgroup_driver.h"

namespace {

// A program installed next to berthd (berth-shim, berth-init).
std::string Sibling(const std::string& name) {
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return name;
  exe[n] = '\0';
  std::string dir(exe);
  dir.resize(dir.find_last_of('/'));
  return dir + "/" + name;
}

// What berthd(8) says beyond its flags.
constexpr const char* kManSections = R"ROFF(.SH FILES
.TP
.I /etc/berth/berthd.toml
The configuration file the systemd unit passes with \fB\-\-config\fR; flags override its keys.
.TP
.I /var/lib/berth
The state directory (\fB\-\-root\fR): records, container directories, images, volumes, events.
.TP
.I /run/berth/berth.sock
The socket \fBberth\fR(1) talks to (\fB\-\-socket\fR).
.TP
.IR berth\-shim ", " berth\-init
Found next to \fBberthd\fR unless \fB\-\-shim\fR or \fB\-\-init\-path\fR say otherwise.
.TP
.I /bin/busybox
The source of the default image \fBbusybox\fR (Debian's busybox\-static).
.SH SIGNALS
SIGTERM or SIGINT stop the agent; containers keep running under their shims and are found
again at the next start. SIGHUP checks the TLS files of \fB\-\-listen\fR again.
)ROFF";

// berthd(8), from the flags just defined: the build runs `berthd --generate-man DIR`.
int WriteManPage(const CLI::App& app, const std::string& dir) {
  berth::cli::ManPageSettings settings;
  settings.section = "8";
  settings.source = std::string("berthd ") + BERTH_VERSION;
  settings.extra_root_sections = kManSections;
  settings.see_also = {"berth(1)", "systemd.service(5)"};
  std::string error;
  if (!berth::cli::WriteManPages(berth::cli::ManPages(app, settings), dir, error)) {
    std::fprintf(stderr, "berthd: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

int Fail(const std::string& what) {
  spdlog::critical("{}", what);
  return 1;
}

}  // namespace

constexpr auto kShutdownGrace = std::chrono::milliseconds(1000);

int main(int argc, char** argv) {
  berth::agent::AgentConfig config;
  berth::agent::DaemonFlags flags;
  // Debian's Abseil is built with deadlock detection on: every lock of gRPC's and our mutexes
  // walks a graph of lock order (about 1.6% of berthd's CPU). The tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"The Berth container node agent", "berthd"};
  berth::agent::DefineDaemonFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  if (!flags.generate_man_dir.empty()) return WriteManPage(app, flags.generate_man_dir);

  if (!flags.config_file.empty()) {
    auto loaded = berth::agent::LoadConfigFile(flags.config_file, config);
    if (!loaded.ok()) {
      std::fprintf(stderr, "berthd: %s\n", std::string(loaded.status().message()).c_str());
      return 2;
    }
    config = *loaded;
  }
  if (auto st = berth::agent::ApplyDaemonFlags(flags, config); !st.ok()) {
    std::fprintf(stderr, "berthd: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  if (config.shim_path.empty()) config.shim_path = Sibling("berth-shim");
  if (config.init_path.empty()) config.init_path = Sibling("berth-init");
  if (auto st = berth::agent::ValidateConfig(config); !st.ok()) {
    std::fprintf(stderr, "berthd: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  berth::agent::SetUpLogging(config.log_level, config.log_format);

  // Signals are taken by one thread with sigwait; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (auto st = berth::MakeDirs(config.root, 0711); !st.ok()) return Fail(std::string(st.message()));
  // Containers with a user namespace reach their own directories below the root as
  // unprivileged ids: it must be searchable (it cannot be listed).
  if (struct stat st; ::stat(config.root.c_str(), &st) == 0 && (st.st_mode & 0111) != 0111) {
    ::chmod(config.root.c_str(), (st.st_mode & 07777) | 0111);
  }
  std::string socket_dir = config.socket.substr(0, config.socket.find_last_of('/'));
  if (auto st = berth::MakeDirs(socket_dir.empty() ? "/" : socket_dir, 0755); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  if (berth::agent::SocketInUse(config.socket)) return Fail(absl::StrCat("another agent serves on ", config.socket));

  auto cgroups = berth::DetectCgroupDriver();
  if (!cgroups.ok()) return Fail(absl::StrCat("cgroups: ", cgroups.status().message()));
  berth::image::RegistryOptions registry;
  registry.insecure_registries = config.insecure_registries;
  registry.mirrors = config.registry_mirrors;
  if (const char* home = std::getenv("HOME")) registry.auth_files.push_back(std::string(home) + "/.config/berth/auth.json");
  if (!config.auth_file.empty()) registry.auth_files.push_back(config.auth_file);
  berth::image::ImageStore images(config.root + "/images", registry);
  if (auto st = images.Init(); !st.ok()) return Fail(absl::StrCat("images: ", st.message()));
  if (auto st = images.EnsureBusybox(config.busybox_path); !st.ok()) return Fail(std::string(st.message()));
  const std::string scratch = config.root + "/tmp";
  (void)berth::RemoveTree(scratch);  // uploads and exports a crash interrupted
  if (auto st = berth::MakeDirs(scratch, 0700); !st.ok()) return Fail(std::string(st.message()));

  std::vector<std::string> dns_upstreams = config.dns;
  if (dns_upstreams.empty()) {
    if (auto node_resolv = berth::ReadFile("/etc/resolv.conf"); node_resolv.ok()) {
      dns_upstreams = berth::agent::IPv4Nameservers(*node_resolv);
    }
  }
  berth::agent::NetworkManager networks({config.root, config.bridge, config.bridge_cidr, config.mtu,
                                         config.outbound_nat, config.ip_forward, config.ipv6,
                                         config.bridge_ipv6_cidr, dns_upstreams});
  if (auto st = networks.Init(); !st.ok()) return Fail(absl::StrCat("networks: ", st.message()));

  auto pool_range = berth::agent::ParseUsernsPoolRange(config.userns_pool);
  if (!pool_range.ok()) return Fail(std::string(pool_range.status().message()));
  auto userns_pool = berth::agent::UsernsPool::Open(config.root + "/userns", pool_range->start, pool_range->size);
  if (!userns_pool.ok()) return Fail(absl::StrCat("userns pool: ", userns_pool.status().message()));
  auto sealed_shim = berth::SealedCopy(config.shim_path);
  if (!sealed_shim.ok()) return Fail(absl::StrCat("berth-shim: ", sealed_shim.status().message()));

  // Segments of a tenth of the bounds: the journal keeps between 90% and all of them.
  berth::agent::JournalLimits journal_limits;
  journal_limits.max_events = static_cast<uint64_t>(config.events_max);
  journal_limits.max_bytes = static_cast<uint64_t>(config.events_max_bytes);
  journal_limits.segment_events = std::max<uint64_t>(1, journal_limits.max_events / 10);
  journal_limits.segment_bytes = std::max<uint64_t>(4096, journal_limits.max_bytes / 10);
  auto journal = berth::agent::EventJournal::Open(config.root + "/events", journal_limits);
  if (!journal.ok()) return Fail(absl::StrCat("event journal: ", journal.status().message()));
  berth::agent::EventHub events(**journal, static_cast<size_t>(config.events_subscriber_queue));
  {
    berth::v1::Event started;
    started.set_type("agent.start");
    (*started.mutable_attributes())["version"] = BERTH_VERSION;
    (*started.mutable_attributes())["pid"] = std::to_string(::getpid());
    events.Publish(std::move(started));
  }

  berth::agent::VolumeStore volumes(config.root + "/volumes");
  if (auto st = volumes.Load(); !st.ok()) return Fail(absl::StrCat("volumes: ", st.message()));

  berth::agent::ManagerOptions manager_options;
  manager_options.volumes = &volumes;
  manager_options.scratch_dir = scratch;
  manager_options.events = &events;
  manager_options.log_max_size_bytes = config.log_max_size;
  manager_options.log_max_files = config.log_max_files;
  manager_options.root = config.root;
  manager_options.shim_path = config.shim_path;
  manager_options.shim_exec_fd = sealed_shim->get();
  manager_options.init_path = config.init_path;
  manager_options.default_userns = config.default_userns;
  manager_options.userns_pool = &*userns_pool;
  manager_options.cgroup_parent = config.cgroup_parent;
  manager_options.dns = config.dns;
  manager_options.dns_search = config.dns_search;
  berth::agent::ContainerManager manager(manager_options, **cgroups, images, networks);
  if (auto st = manager.Recover(); !st.ok()) return Fail(absl::StrCat("recover: ", st.message()));

  berth::agent::AuditLog audit(config.root + "/audit.log", config.audit_max_bytes, config.audit_files);
  if (auto st = audit.Open(); !st.ok()) return Fail(absl::StrCat("audit log: ", st.message()));
  berth::agent::Authorizer authz(config.authz);
  berth::agent::UnixPeers unix_peers;
  berth::agent::CallGate gate(authz, unix_peers, &audit, config.max_calls_per_identity);
  berth::agent::AgentMetrics metrics;
  gate.set_metrics(&metrics);
  std::unique_ptr<berth::agent::MetricsServer> metrics_server;
  const bool metrics_by_default = config.metrics_listen.empty();
  const std::string metrics_address = metrics_by_default ? "127.0.0.1:9338" : config.metrics_listen;
  if (config.metrics_listen != "none") {
    const bool by_default = metrics_by_default;
    auto started = berth::agent::MetricsServer::Start(metrics_address, [&] {
      return berth::agent::RenderMetricsPage(metrics, manager);
    });
    if (started.ok()) {
      metrics_server = std::move(*started);
    } else if (by_default) {
      spdlog::warn("no metrics: {}", std::string(started.status().message()));
    } else {
      return Fail(std::string(started.status().message()));
    }
  }

  berth::agent::ContainersService containers(manager, gate, metrics);
  berth::agent::NetworksService networks_service(networks, gate, events);
  berth::agent::SystemService system(manager, images, volumes, gate);
  berth::agent::VolumesService volumes_service(volumes, manager, gate, events);
  berth::agent::ImagesService images_service(images, manager, scratch, gate, events, metrics);
  berth::agent::EventsService events_service(events, gate);
  berth::agent::HealthService health(gate);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Limits no client may push the agent past: message size (Import streams chunks below it),
  // streams per connection, keepalive pings (a client may not flood them; a dead peer is
  // noticed).
  builder.SetMaxReceiveMessageSize(4 << 20);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 128);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 3);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  // A connection without a call for an hour is closed (a client reconnects at its next call).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 3600 * 1000);
  // Every call of the synchronous server holds a thread: a ceiling for all callers together
  // (each identity meets max_calls_per_identity in the gate first).
  grpc::ResourceQuota quota("berthd");
  quota.SetMaxThreads(1024);
  builder.SetResourceQuota(quota);
  for (const std::string& address : config.listen) {
    auto creds = berth::agent::MutualTlsCredentials(config.tls_cert, config.tls_key, config.tls_client_ca);
    if (!creds.ok()) return Fail(absl::StrCat("--listen ", address, ": ", creds.status().message()));
    builder.AddListeningPort(address.substr(std::string("tcp://").size()), *creds);
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(gate.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(&containers);
  builder.RegisterService(&system);
  builder.RegisterService(&networks_service);
  builder.RegisterService(&volumes_service);
  builder.RegisterService(&images_service);
  builder.RegisterService(&health);
  builder.RegisterService(&events_service);
  // The Kubernetes CRI on a socket of its own. The default one is skipped when another agent
  // (a second berthd on the node) has it; one asked for must be served.
  const std::string cri_path = berth::agent::cri::CriSocketPath(config.cri_socket, config.socket);
  std::unique_ptr<berth::agent::cri::streaming::StreamingServer> cri_streaming;
  if (!cri_path.empty()) {
    const bool by_default = config.cri_stream_address.empty();
    auto started = berth::agent::cri::streaming::StreamingServer::Start(
        by_default ? "127.0.0.1:0" : config.cri_stream_address, manager);
    if (started.ok()) {
      cri_streaming = std::move(*started);
    } else if (by_default) {
      spdlog::warn("no CRI streaming server (Exec, Attach and PortForward will answer UNAVAILABLE): {}",
                   std::string(started.status().message()));
    } else {
      return Fail(std::string(started.status().message()));
    }
  }
  berth::agent::cri::PodNetwork pod_network(
      {config.cni_conf_dir, absl::StrSplit(config.cni_bin_dir, ':', absl::SkipEmpty()), config.root + "/cni"});
  berth::agent::cri::CriOptions cri_options;
  cri_options.pod_network = &pod_network;
  cri_options.init_path = config.init_path;
  cri_options.events = &events;
  cri_options.streaming = cri_streaming.get();
  berth::agent::cri::CriRuntimeService cri_runtime(manager, cri_options);
  berth::agent::cri::CriImageService cri_images(images, manager, config.root + "/images");
  std::unique_ptr<berth::agent::cri::CriEndpoint> cri_endpoint;
  if (!cri_path.empty()) {
    auto started = berth::agent::cri::CriEndpoint::Start(cri_path, {&cri_runtime, &cri_images});
    if (started.ok()) {
      cri_endpoint = std::move(*started);
    } else if (config.cri_socket.empty()) {
      spdlog::warn("no CRI socket: {}", std::string(started.status().message()));
    } else {
      return Fail(absl::StrCat("cri_socket: ", started.status().message()));
    }
  }
  auto unix_listener = berth::agent::UnixListener::Open(config.socket, config.socket_group);
  if (!unix_listener.ok()) return Fail(std::string(unix_listener.status().message()));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return Fail("cannot start the gRPC server (is a --listen address in use?)");
  (*unix_listener)->Serve(server.get(), &unix_peers);
  spdlog::info("berthd serving socket={} cri_socket={} cri_streams={} pod_network={} listen={} metrics={} root={} "
               "cgroup_driver={} cgroup_parent={}",
               config.socket, cri_endpoint ? cri_endpoint->path() : "none",
               cri_endpoint && cri_streaming ? cri_streaming->base_url() : "none",
               config.cni_conf_dir.empty() ? "bridge" : "cni:" + config.cni_conf_dir, absl::StrJoin(config.listen, ","),
               metrics_server ? metrics_address : "none", config.root,
               (*cgroups)->Name(), config.cgroup_parent);

  // Start-up code and what ran once since: resident no more (shared pages stay cached).
  berth::agent::MemoryReleaseLoop memory_release(std::chrono::seconds(1), std::chrono::seconds(10));

  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      if (sig == SIGHUP) {
        // The certificate provider re-reads the files by itself; this says whether they are good.
        if (config.listen.empty()) continue;
        absl::Status st = berth::agent::CheckTlsFiles(config.tls_cert, config.tls_key, config.tls_client_ca);
        if (st.ok()) {
          spdlog::info("SIGHUP: TLS files are valid; new connections get them within a second");
        } else {
          spdlog::error("SIGHUP: TLS files are not usable, connections keep the previous ones: {}", st.message());
        }
        continue;
      }
      spdlog::info("signal {}: shutting down (containers keep running)", sig);
      (*unix_listener)->Stop();
      health.Shutdown();
      if (cri_endpoint) cri_endpoint->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
      // Unary calls get a moment to finish; streams (logs -f, events, attach) have no end of
      // their own and are cancelled then, so that berthd is gone within about two seconds.
      server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
      return;
    }
  });
  server->Wait();
  signal_thread.join();
  spdlog::info("stopped serving");
  return 0;
}
