#include "agent/container_manager.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <chrono>
#include <cerrno>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "agent/logging.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/container_cgroup.h"
#include "agent/container_record.h"
#include "agent/health_check.h"
#include "runtime/base/crash_point.h"
#include "runtime/base/signal_names.h"
#include "agent/ids.h"
#include "agent/grpc_status.h"
#include "agent/shim_client.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/process_info.h"
#include "runtime/lifecycle/live_container.h"
#include "runtime/seccomp/compiled_program.h"
#include "runtime/shim/shim_protocol.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

using google::protobuf::util::TimeUtil;

namespace {

google::protobuf::Timestamp TimestampFromNanos(int64_t ns) { return TimeUtil::NanosecondsToTimestamp(ns); }
google::protobuf::Timestamp Now() { return TimeUtil::NanosecondsToTimestamp(absl::GetCurrentTimeNanos()); }

const char* StateName(v1::ContainerState s) {
  switch (s) {
    case v1::CREATED:
      return "created";
    case v1::RUNNING:
      return "running";
    case v1::PAUSED:
      return "paused";
    case v1::EXITED:
      return "exited";
    default:
      return "unknown";
  }
}

absl::Status CheckRestartPolicy(const v1::RestartPolicy& restart, bool auto_remove) {
  const std::string& policy = restart.name();
  if (policy != "" && policy != "no" && policy != "on-failure" && policy != "always" && policy != "unless-stopped") {
    return absl::InvalidArgumentError(absl::StrCat("restart policy ", Quoted(policy),
                                                   " is not one of no, on-failure[:N], always, unless-stopped"));
  }
  if (restart.max_retries() < 0 || (restart.max_retries() > 0 && policy != "on-failure")) {
    return absl::InvalidArgumentError("a restart policy's maximum retry count is for on-failure only, and not negative");
  }
  if (auto_remove && policy != "" && policy != "no") {
    return absl::InvalidArgumentError(
        absl::StrCat("auto-remove (--rm) and restart policy ", Quoted(policy), " conflict: choose one"));
  }
  return absl::OkStatus();
}

constexpr int kDefaultStopTimeoutSeconds = 10;  // Docker's

bool IsLive(v1::ContainerState s) { return s == v1::RUNNING || s == v1::PAUSED; }

}  // namespace

ContainerManager::ContainerManager(ManagerOptions options, CgroupDriver& cgroups, image::ImageStore& images,
                                   NetworkManager& networks)
    : options_(std::move(options)),
      boot_id_(BootId().value_or("unknown")),
      cgroups_(cgroups),
      images_(images),
      networks_(networks),
      launcher_(options_.shim_path, options_.shim_exec_fd),
      watcher_([this](const std::string& id, const std::optional<shim::ExitReport>& report) { OnExit(id, report); }) {
  removals_thread_ = std::thread([this] { RunAutoRemovals(); });
  restarts_thread_ = std::thread([this] { RunRestarts(); });
}

ContainerManager::~ContainerManager() {
  StopAllProbers();  // their probes use everything below
  {
    std::lock_guard<std::mutex> lock(removals_mu_);
    stopping_ = true;
  }
  removals_cv_.notify_all();
  removals_thread_.join();
  {
    std::lock_guard<std::mutex> lock(restarts_mu_);
    restarts_stopping_ = true;
  }
  restarts_cv_.notify_all();
  restarts_thread_.join();
}

std::string ContainerManager::ContainersDir() const { return options_.root + "/containers"; }
std::string ContainerManager::CgroupsPathFor(const std::string& id, const std::string& own_parent) const {
  return ContainerCgroupPath(options_.cgroup_parent, own_parent, id);
}
std::string_view ContainerManager::cgroup_driver_name() const {
  auto n = cgroups_.Name();
  return std::string_view(n.data(), n.size());
}

absl::StatusOr<std::shared_ptr<ContainerManager::Entry>> ContainerManager::Find(const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  auto id = ResolveReference(ref, by_id_, names_);
  if (!id.ok()) return id.status();
  return by_id_.at(*id);
}

std::string ContainerManager::NameOf(Entry& entry) {
  std::lock_guard<std::mutex> lock(entry.mu);
  return entry.name;
}

absl::Status ContainerManager::Persist(Entry& entry) { return SaveRecord(entry.paths.record, entry.record); }

absl::StatusOr<v1::Container> ContainerManager::Create(const v1::ContainerConfig& config) {
  if (config.image().empty()) return absl::InvalidArgumentError("image is required");
  // Pinned until the record is listed: an image Remove meanwhile finds it used.
  auto pinned = images_.GetPinned(config.image());
  if (!pinned.ok()) return pinned.status();
  std::optional<image::Image> image = std::move(pinned->first);

  const std::string id = NewContainerId();
  std::string name = config.name();
  if (!name.empty()) {
    if (absl::Status st = ValidateName(name); !st.ok()) return st;
  }
  for (const auto& [k, v] : config.labels()) {
    if (k.empty() || k.size() > 253) {
      return absl::InvalidArgumentError(absl::StrCat("label key \"", k, "\" must be 1 to 253 characters"));
    }
  }
  if (absl::Status st = CheckRestartPolicy(config.restart_policy(), config.auto_remove()); !st.ok()) return st;
  absl::StatusOr<std::string> cgroup_parent = CleanCgroupParent(config.cgroup_parent());
  if (!cgroup_parent.ok()) return cgroup_parent.status();
  auto health_check = ResolveHealthCheck(config.health_check(), image->config.config.healthcheck);
  if (!health_check.ok()) return health_check.status();
  // The stop signal as a name ("SIGQUIT"), from the request or the image.
  std::string stop_signal = config.stop_signal().empty() ? image->config.config.stop_signal : config.stop_signal();
  if (!stop_signal.empty()) {
    absl::StatusOr<int> signo = ParseSignal(stop_signal);
    if (!signo.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(config.stop_signal().empty() ? "the image's StopSignal " : "stop signal ",
                                                     Quoted(stop_signal), ": ", signo.status().message()));
    }
    stop_signal = SignalName(*signo);
  }
  v1::LogOptions log = config.log();
  if (!log.path().empty()) {
    // A log someone else names is theirs to rotate (the kubelet's): none here.
    if (log.path()[0] != '/' || absl::StrContains(log.path(), "/../") || absl::EndsWith(log.path(), "/..") ||
        log.path().back() == '/') {
      return absl::InvalidArgumentError(absl::StrCat("log path must be an absolute file path, got ", Quoted(log.path())));
    }
    log.set_max_size_bytes(0);
    log.set_max_files(1);
  } else if (log.max_size_bytes() == 0) {
    log.set_max_size_bytes(options_.log_max_size_bytes);
  }
  if (log.max_files() == 0) log.set_max_files(options_.log_max_files);
  if (log.path().empty() && log.max_size_bytes() < 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("log max-size must be at least 4096 bytes, got ", log.max_size_bytes()));
  }
  if (log.max_files() < 1 || log.max_files() > 100) {
    return absl::InvalidArgumentError(absl::StrCat("log max-file must be 1 to 100, got ", log.max_files()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (name.empty()) {
      name = GenerateName(id);
      while (names_.count(name)) name = GenerateName(NewContainerId());
    } else if (auto it = names_.find(name); it != names_.end()) {
      return absl::AlreadyExistsError(absl::StrCat("the name \"", name, "\" is already in use by container ",
                                                   it->second.empty() ? "being created" : it->second.substr(0, 12)));
    }
    names_[name] = "";
  }
  auto release_name = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    names_.erase(name);
  };

  ContainerPaths paths = ContainerPaths::For(ContainersDir(), id);
  if (!log.path().empty()) paths.log = log.path();
  const std::string cgroups_path = CgroupsPathFor(id, *cgroup_parent);
  auto userns = UsernsMode(config, options_.default_userns);
  if (!userns.ok()) {
    release_name();
    return userns.status();
  }
  SecurityInputs security;
  security.init_path = options_.init_path;
  if (*userns == "auto") {
    if (options_.userns_pool == nullptr) {
      release_name();
      return absl::FailedPreconditionError("--userns=auto: this agent has no userns_pool configured");
    }
    auto first = options_.userns_pool->Allocate(id);
    if (!first.ok()) {
      release_name();
      return first.status();
    }
    security.userns_first_host_id = *first;
  }
  bool volumes_held = false;
  std::vector<std::string> created_volumes;
  auto release_userns = [&] {
    if (volumes_held) ReleaseVolumes(id, /*remove_anonymous=*/true, created_volumes);
    if (security.userns_first_host_id) (void)options_.userns_pool->Release(id);
  };
  auto mounts = PlanMounts(config, id, *image, security.userns_first_host_id);
  if (!mounts.ok()) {
    release_userns();
    release_name();
    return mounts.status();
  }
  volumes_held = true;
  created_volumes = mounts->created_volumes;
  auto plan = PlanNetwork(config, id);
  if (!plan.ok()) {
    release_userns();
    release_name();
    return plan.status();
  }
  auto release_network = [&] {
    networks_.Release(id, plan->settings);
    release_userns();
  };
  auto namespaces = PlanNamespaces(config);
  if (!namespaces.ok()) {
    release_network();
    release_name();
    return namespaces.status();
  }
  namespaces->Record(mounts->recorded);
  std::vector<int> inherit_fds;
  if (plan->netns) inherit_fds.push_back(plan->netns.get());
  namespaces->AddTo(plan->spec, inherit_fds);
  CrashPoint("create.lease_written");
  plan->spec.hosts = paths.hosts;
  plan->spec.hostname = paths.hostname;
  plan->spec.resolv_conf = paths.resolv_conf;
  v1::EffectiveSecurity effective;
  auto spec = BuildSpec(mounts->for_spec, *image, id, cgroups_path, paths, plan->spec, security, &effective);
  if (!spec.ok()) {
    release_network();
    release_name();
    return spec.status();
  }

  // Everything below is undone if a later step fails; a crash in between is undone by
  // Recover(), which removes container dirs that have no record. Nothing reads the new
  // directory's files before the shim is launched: each is written in place (WriteNewFile).
  auto undo_dir = [&] { (void)RemoveTree(paths.dir); };
  absl::Status made = MakeDirs(ContainersDir(), 0700);
  for (const std::string* d : {&paths.dir, &paths.bundle, &paths.rootfs, &paths.upper, &paths.work}) {
    if (made.ok()) made = MakeDirs(*d, 0700);
  }
  // The overlay's root takes the upper dir's mode: give it the image root's (0755), or the
  // container's "/" is 0700 and only root can reach any file in it. The container dir
  // (0700) still keeps host users out.
  if (made.ok()) {
    struct stat image_root;
    mode_t mode = ::stat(image->layers.back().c_str(), &image_root) == 0 ? (image_root.st_mode & 07777) : 0755;
    if (::chmod(paths.upper.c_str(), mode) != 0) made = ErrnoToStatus(absl::StrCat("chmod ", paths.upper));
  }
  if (made.ok()) {
    v1::ContainerConfig etc_config = config;
    if (!namespaces->hostname.empty()) etc_config.set_hostname(namespaces->hostname);
    made = WriteEtcFiles(etc_config, id, name, paths, plan->settings);
  }
  if (made.ok() && security.userns_first_host_id) {
    // The container's root (an unprivileged id on the node) attaches its root file system on
    // rootfs/ itself, so the path must be traversable for it; nothing here can be listed.
    const uint32_t root_id = *security.userns_first_host_id;
    if (::chmod(paths.dir.c_str(), 0711) != 0 || ::chown(paths.rootfs.c_str(), root_id, root_id) != 0) {
      made = ErrnoToStatus(absl::StrCat("prepare ", paths.dir, " for a user namespace"));
    }
  }
  if (made.ok() && security.userns_first_host_id) {
    // The container's root may edit its /etc files, as it could without a user namespace.
    for (const std::string* f : {&paths.hosts, &paths.hostname, &paths.resolv_conf}) {
      if (made.ok() && ::chown(f->c_str(), *security.userns_first_host_id, *security.userns_first_host_id) != 0) {
        made = ErrnoToStatus(absl::StrCat("chown ", *f));
      }
    }
  }
  const std::string config_json = spec::SerializeSpec(*spec);
  if (made.ok() && spec->linux.seccomp) {
    absl::StatusOr<std::string> program = seccomp_.Encoded(*spec->linux.seccomp, config_json);
    made = program.ok() ? WriteNewFile(absl::StrCat(paths.bundle, "/", seccomp::kCompiledProgramFile), *program, 0600)
                        : program.status();
  }
  if (made.ok()) made = WriteNewFile(paths.bundle + "/config.json", config_json, 0600);
  if (made.ok()) CrashPoint("create.bundle_written");
  if (!made.ok()) {
    undo_dir();
    release_network();
    release_name();
    return absl::IsInvalidArgument(made) ? made : Annotate(made, "create container");
  }

  // The network is connected while the container's init sets up its root (the veth takes
  // ~1.5 ms, init 3-4 ms); the record is written once the shim reports the container ready.
  auto entry = std::make_shared<Entry>();
  entry->id = id;
  entry->name = name;
  entry->paths = paths;
  entry->cgroups_path = cgroups_path;
  {
    v1::Container& c = entry->record;
    c.set_id(id);
    c.set_name(name);
    c.set_image(config.image());  // as the user wrote it, as Docker shows it
    c.set_image_id(image->id);
    for (const auto& a : spec->process.args) c.add_command(a);
    for (const auto& e : spec->process.env) c.add_env(e);
    c.set_working_dir(spec->process.cwd);
    c.set_user(absl::StrCat(spec->process.user.uid, ":", spec->process.user.gid));
    c.set_hostname(spec->hostname);
    // The image's labels, then the container's over them (Docker's rule).
    for (const auto& [k, v] : image->config.config.labels) (*c.mutable_labels())[k] = v;
    for (const auto& [k, v] : config.labels()) (*c.mutable_labels())[k] = v;
    *c.mutable_resources() = config.resources();
    *c.mutable_config() = mounts->recorded;
    c.mutable_config()->set_name(name);
    *c.mutable_config()->mutable_log() = log;
    c.mutable_config()->set_stop_signal(stop_signal);
    c.mutable_config()->set_cgroup_parent(*cgroup_parent);
    if (*health_check) {
      *c.mutable_config()->mutable_health_check() = **health_check;
    } else {
      c.mutable_config()->clear_health_check();
    }
    c.set_state(v1::CREATED);
    *c.mutable_created_at() = Now();
    c.set_log_path(paths.log);
    *c.mutable_network_settings() = plan->settings;
    *c.mutable_security() = effective;
  }
  const bool bridge = plan->settings.mode() == "bridge";
  // Init writes the container's sysctls once its root is set up. The caller's net.* ones may
  // name eth0 or set conf.default for interfaces made after them: the veth then waits for
  // init to be ready, so that they always see the container without it, whatever the timing.
  const bool connect_beside_init =
      bridge && std::none_of(config.sysctls().begin(), config.sysctls().end(),
                             [](const auto& sysctl) { return absl::StartsWith(sysctl.first, "net."); });
  absl::Status connected = absl::OkStatus();
  // The record is made durable while init sets up its root, as pending: renamed into place
  // once the container exists (container_record.h).
  const std::string pending_record = PendingRecordPath(paths.record, boot_id_);
  absl::Status pending = absl::OkStatus();
  auto when_init_exists = [&](const LaunchedShim& init) {
    entry->record.set_pid(init.init_pid);
    entry->pid_start_time = init.init_start_time;
    if (connect_beside_init) connected = networks_.Connect(id, plan->settings, init.init_pid);
    pending = SavePendingRecord(pending_record, entry->record);
    if (pending.ok()) CrashPoint("create.record_pending");
  };

  ShimLaunch launch{id, paths.bundle, paths.dir, paths.log, config.open_stdin()};
  launch.log_max_size_bytes = log.max_size_bytes();
  launch.log_max_files = log.max_files();
  launch.inherit_fds = inherit_fds;
  auto launched = launcher_.Launch(launch, when_init_exists);
  plan->netns.Reset();
  namespaces->fds.clear();
  if (!launched.ok()) {
    undo_dir();
    release_network();
    release_name();
    spdlog::warn("create failed id={} name={} error=\"{}\"", id, name, launched.status().message());
    return Annotate(launched.status(), absl::StrCat("create container ", name));
  }
  CrashPoint("create.shim_launched");
  // Undoes a launched container that must not exist after all.
  auto undo_launched = [&] {
    // The shim sees its init end and removes the cgroup and its socket.
    (void)ShimRequest(paths.dir, shim::MsgType::kKill, shim::Encode(shim::KillRequest{SIGKILL, false}));
    for (int i = 0; i < 100 && ::access((paths.dir + "/" + shim::kShimSocketName).c_str(), F_OK) == 0; ++i) {
      ::usleep(20000);
    }
    undo_dir();
    release_network();
    release_name();
  };
  if (bridge && !connect_beside_init) connected = networks_.Connect(id, plan->settings, launched->init_pid);
  if (!connected.ok()) {
    undo_launched();
    spdlog::warn("create failed id={} name={} error=\"{}\"", id, name, connected.message());
    return Annotate(connected, absl::StrCat("create container ", name));
  }
  if (bridge) CrashPoint("create.network_connected");
  // Only now: a record is a container that exists, with its shim and network.
  absl::Status recorded = pending.ok() ? CommitPendingRecord(pending_record, paths.record) : pending;
  if (!recorded.ok()) {
    // Without a record the container must not exist: undo it.
    undo_launched();
    return Annotate(recorded, "create container: write record");
  }
  CrashPoint("create.record_written");
  if (bridge) networks_.RegisterNames(id, name, plan->settings);
  {
    std::lock_guard<std::mutex> lock(mu_);
    by_id_[id] = entry;
    names_[name] = id;
  }
  WatchShim(entry);
  spdlog::info("container created id={} name={} image={} pid={}", id, name, config.image(), launched->init_pid);
  std::lock_guard<std::mutex> el(entry->mu);
  Emit(ContainerEvent(entry->record, "create"));
  return entry->record;
}

void ContainerManager::WatchShim(const std::shared_ptr<Entry>& entry) {
  auto conn = ShimOpen(entry->paths.dir, shim::MsgType::kWait);
  if (conn.ok()) {
    watcher_.Watch(entry->id, std::move(*conn));
    return;
  }
  // The shim is already gone: its state file says how the container ended, and what follows
  // an exit (auto-remove, the restart policy) follows this one too.
  OnExit(entry->id, std::nullopt);
}

void ContainerManager::ApplyExit(Entry& entry, const std::optional<shim::ExitReport>& report, bool at_recovery) {
  if (entry.record.state() == v1::EXITED) return;
  entry.cgroup_removed_by_shim = report.has_value() && report->cgroup_removed;
  std::optional<shim::ExitReport> exit = report;
  absl::StatusOr<shim::ShimState> state = absl::NotFoundError("not read");
  if (!exit) {
    state = shim::ReadStateFile(entry.paths.dir);
    if (state.ok() && state->status == "exited") {
      exit = shim::ExitReport{state->exit_code, state->oom_killed, state->started_at_ns, state->finished_at_ns,
                              state->error};
    }
  }
  v1::Container& c = entry.record;
  if (exit) {
    c.set_exit_code(exit->exit_code);
    c.set_oom_killed(exit->oom_killed);
    *c.mutable_finished_at() = exit->finished_at_ns > 0 ? TimestampFromNanos(exit->finished_at_ns) : Now();
    if (exit->started_at_ns > 0 && !c.has_started_at()) *c.mutable_started_at() = TimestampFromNanos(exit->started_at_ns);
    if (!exit->error.empty()) c.set_error(exit->error);
  } else {
    // The monitor died without recording an exit: nothing can report this container any
    // more, so end it and free its cgroup rather than leave an unsupervised process.
    lifecycle::LiveContainer live{0, 0, entry.cgroups_path};
    if (state.ok()) {
      live.pid = state->pid;
      live.pid_start_time = state->pid_start_time;
      // A start the record does not hold (see Start) is in the state file.
      if (state->started_at_ns > 0 && !c.has_started_at()) *c.mutable_started_at() = TimestampFromNanos(state->started_at_ns);
    }
    (void)lifecycle::DestroyContainer(cgroups_, live);
    c.set_exit_code(255);
    c.set_error("the container's monitor (berth-shim) exited unexpectedly; exit status unknown");
    *c.mutable_finished_at() = Now();
  }
  c.set_state(v1::EXITED);
  c.set_pid(0);
  StopProbing(c.id());
  networks_.Unpublish(c.id());  // an exited container's ports are free for others
  // A --rm container is removed next and not rewritten first: `run --rm` waits for the
  // removal, and an agent that dies before it reads the exit from the shim's state file at
  // start-up, as it would have from the record.
  const bool removed_next = c.config().auto_remove() && !at_recovery;
  if (absl::Status st = removed_next ? absl::OkStatus() : Persist(entry); !st.ok()) {
    spdlog::error("persist exit id={} error=\"{}\"", c.id(), st.message());
  }
  CrashPoint("exit.recorded");
  spdlog::info("container exited id={} code={} oom_killed={}", c.id(), c.exit_code(), c.oom_killed());
  v1::Event event = ContainerEvent(c, "exit");
  event.set_exit_code(c.exit_code());
  event.set_oom_killed(c.oom_killed());
  if (at_recovery) (*event.mutable_attributes())["while_agent_down"] = "true";
  Emit(std::move(event));
}

void ContainerManager::OnExit(const std::string& id, const std::optional<shim::ExitReport>& report) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    entry = it->second;
  }
  bool auto_remove = false;
  std::optional<absl::Duration> restart;
  {
    std::lock_guard<std::mutex> el(entry->mu);
    ApplyExit(*entry, report);
    auto_remove = entry->record.config().auto_remove() && !entry->removed;
    if (!entry->removed) restart = RestartDelay(*entry, /*at_startup=*/false);
    // --health-on-failure=restart restarts it whatever its policy says (a caller's Stop or
    // Kill since then wins).
    if (entry->restart_for_health && !entry->removed && !entry->record.stopped_by_caller() && !restart) {
      restart = absl::ZeroDuration();
    }
    entry->restart_for_health = false;
    entry->changed.notify_all();
  }
  if (restart) ScheduleRestart(id, *restart);
  if (auto_remove) {
    std::lock_guard<std::mutex> lock(removals_mu_);
    removals_.push_back(id);
    removals_cv_.notify_one();
  }
}

void ContainerManager::RunAutoRemovals() {
  std::unique_lock<std::mutex> lock(removals_mu_);
  for (;;) {
    removals_cv_.wait(lock, [this] { return stopping_ || !removals_.empty(); });
    if (stopping_) return;
    std::string id = removals_.front();
    removals_.pop_front();
    lock.unlock();
    absl::Status st = Remove(id, true, /*remove_volumes=*/true);  // docker run --rm does too
    if (!st.ok() && !absl::IsNotFound(st)) spdlog::warn("auto-remove id={} error=\"{}\"", id, st.message());
    lock.lock();
  }
}

absl::StatusOr<v1::Container> ContainerManager::Start(const std::string& ref) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  bool exited = false;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    if (e.removed) return absl::NotFoundError(absl::StrCat("no such container: ", Quoted(ref)));
    exited = e.record.state() == v1::EXITED;
    if ((e.record.state() != v1::CREATED && !exited) || e.starting) {
      return absl::FailedPreconditionError(absl::StrCat("container ", e.name, " is ",
                                                        e.starting ? "being started" : StateName(e.record.state()),
                                                        "; only a created or exited container can be started"));
    }
    if (exited) {
      // docker start of an exited container: a new process on the same root file system. A
      // restart its policy has pending is this one.
      e.record.set_stopped_by_caller(false);
      e.backoff_steps = 0;
      std::lock_guard<std::mutex> restarts(restarts_mu_);
      restarts_.erase(e.id);
    } else {
      e.starting = true;
    }
  }
  if (exited) {
    if (absl::Status st = Relaunch(*entry, /*by_policy=*/false); !st.ok()) return st;
    std::lock_guard<std::mutex> lock(e.mu);
    return e.record;
  }
  // No lock while the shim works, so a slow start never blocks calls about this container.
  // The shim's refusal (kError) is the process's failure; not reaching the shim is not.
  absl::StatusOr<shim::Message> reply = absl::UnknownError("no reply");
  bool refused_by_shim = false;
  if (absl::StatusOr<UniqueFd> conn = ShimOpen(e.paths.dir, shim::MsgType::kStart); !conn.ok()) {
    reply = conn.status();
  } else {
    reply = shim::ReceiveMessage(conn->get());
    if (reply.ok() && reply->type == shim::MsgType::kError) {
      refused_by_shim = true;
      reply = shim::DecodeError(reply->payload);
    }
  }
  std::lock_guard<std::mutex> lock(e.mu);
  e.starting = false;
  e.changed.notify_all();
  if (!reply.ok()) {
    e.record.set_error(std::string(reply.status().message()));
    (void)Persist(e);
    spdlog::warn("start failed id={} error=\"{}\"", e.id, reply.status().message());
    absl::Status st = Annotate(reply.status(), absl::StrCat("start container ", e.name));
    // The shim answered: the container's process is what could not be started.
    return refused_by_shim ? MarkProcessStartFailure(st) : st;
  }
  if (reply->type != shim::MsgType::kStarted) return absl::InternalError("start: unexpected reply from the shim");
  if (e.record.state() == v1::CREATED) {  // the process may already have exited meanwhile
    e.record.set_state(v1::RUNNING);
    auto started = shim::Decode<shim::Started>(reply->payload);
    *e.record.mutable_started_at() =
        started.ok() && started->started_at_ns > 0 ? TimestampFromNanos(started->started_at_ns) : Now();
    StartProbing(e);
    // Not written to the record: the shim's state file holds the start (status and time), and
    // recovery takes it from there. Rewriting the record here cost every start a rename over
    // the old file, whose freed block an ext4 mounted with `discard` trims synchronously.
    CrashPoint("start.shim_started");
    Emit(ContainerEvent(e.record, "start"));
  }
  spdlog::info("container started id={}", e.id);
  return e.record;
}

absl::Status ContainerManager::AskShim(Entry& e, shim::MsgType type, const std::string& payload) {
  absl::StatusOr<shim::Message> reply = ShimRequest(e.paths.dir, type, payload);
  if (!reply.ok()) return reply.status();
  if (reply->type == shim::MsgType::kError) return shim::DecodeError(reply->payload);
  if (reply->type != shim::MsgType::kOk) return absl::InternalError("unexpected reply from the shim");
  return absl::OkStatus();
}

absl::Status ContainerManager::SignalInit(Entry& e, int signal) {
  absl::Status st = AskShim(e, shim::MsgType::kKill, shim::Encode(shim::KillRequest{signal, false}));
  // No shim (NOT_FOUND, UNAVAILABLE) or an init that has exited (FAILED_PRECONDITION): the
  // exit is on its way to the watcher.
  if (st.ok() || absl::IsNotFound(st) || absl::IsUnavailable(st) || absl::IsFailedPrecondition(st)) {
    return absl::OkStatus();
  }
  return Annotate(st, absl::StrCat("signal container ", e.record.name()));
}

bool ContainerManager::WaitExited(Entry& e, std::unique_lock<std::mutex>& lock, int timeout_ms) {
  auto done = [&] { return e.record.state() == v1::EXITED || e.removed; };
  if (timeout_ms < 0) {
    e.changed.wait(lock, done);
    return true;
  }
  return e.changed.wait_for(lock, std::chrono::milliseconds(timeout_ms), done);
}

absl::Status ContainerManager::KillAndWait(Entry& e, std::unique_lock<std::mutex>& lock) {
  if (e.record.state() == v1::EXITED) return absl::OkStatus();
  if (absl::Status st = SignalInit(e, SIGKILL); !st.ok()) return st;  // the shim thaws a paused one
  if (!WaitExited(e, lock, 30000)) {
    return absl::DeadlineExceededError(absl::StrCat("container ", e.record.name(), " did not exit 30 s after SIGKILL"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Container> ContainerManager::Stop(const std::string& ref, int signal,
                                                    std::optional<int> timeout) {
  if (signal < 0 || signal > 64) return absl::InvalidArgumentError(absl::StrCat("signal ", signal, " is not 1..64"));
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::unique_lock<std::mutex> lock(e.mu);
  if (signal == 0) {
    // Validated at Create: a record's own signal always parses.
    absl::StatusOr<int> own = e.record.config().stop_signal().empty()
                                  ? absl::StatusOr<int>(SIGTERM)
                                  : ParseSignal(e.record.config().stop_signal());
    signal = own.ok() ? *own : SIGTERM;
  }
  const int timeout_seconds = timeout ? *timeout
                              : e.record.config().has_stop_timeout_seconds()
                                  ? e.record.config().stop_timeout_seconds()
                                  : kDefaultStopTimeoutSeconds;
  e.record.set_stopped_by_caller(true);  // its restart policy leaves it stopped
  if (!IsLive(e.record.state())) {
    // Stopping a stopped container only cancels a restart its policy has pending.
    (void)Persist(e);
    std::lock_guard<std::mutex> restarts(restarts_mu_);
    restarts_.erase(e.id);
    return e.record;
  }
  bool paused = e.record.state() == v1::PAUSED;
  if (absl::Status st = SignalInit(e, signal); !st.ok()) return st;
  CrashPoint("stop.signalled");
  if (paused && (signal == SIGKILL || signal == SIGTERM)) {  // the shim thawed it
    e.record.set_state(v1::RUNNING);
    (void)Persist(e);
  }
  int timeout_ms = timeout_seconds < 0 ? -1 : timeout_seconds * 1000;
  bool killed = false;
  if (!WaitExited(e, lock, timeout_ms)) {
    spdlog::info("stop: grace period over, SIGKILL id={}", e.record.id());
    if (absl::Status st = KillAndWait(e, lock); !st.ok()) return st;
    killed = true;
  }
  v1::Event event = ContainerEvent(e.record, "stop");
  (*event.mutable_attributes())["signal"] = std::to_string(killed ? SIGKILL : signal);
  Emit(std::move(event));
  return e.record;
}

absl::Status ContainerManager::Kill(const std::string& ref, int signal) {
  if (signal == 0) signal = SIGKILL;
  if (signal < 1 || signal > 64) return absl::InvalidArgumentError(absl::StrCat("signal ", signal, " is not 1..64"));
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::unique_lock<std::mutex> lock(e.mu);
  if (!IsLive(e.record.state())) {
    return absl::FailedPreconditionError(absl::StrCat("container ", e.record.name(), " is not running (",
                                                      StateName(e.record.state()), ")"));
  }
  if (signal == SIGKILL || signal == SIGTERM) e.record.set_stopped_by_caller(true);
  if (absl::Status st = SignalInit(e, signal); !st.ok()) return st;
  if (e.record.state() == v1::PAUSED && (signal == SIGKILL || signal == SIGTERM)) {  // the shim thawed it
    e.record.set_state(v1::RUNNING);
  }
  (void)Persist(e);
  v1::Event event = ContainerEvent(e.record, "kill");
  (*event.mutable_attributes())["signal"] = std::to_string(signal);
  Emit(std::move(event));
  return absl::OkStatus();
}

absl::Status ContainerManager::Remove(const std::string& ref, bool force, bool remove_volumes) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::string id, name;
  v1::NetworkSettings network;
  v1::Event removed_event;
  bool cgroup_removed = false;
  {
    std::unique_lock<std::mutex> lock(e.mu);
    // A restart in flight finishes first. So does another Remove of it: "no such container"
    // then means gone (run --rm and docker's `wait --condition removed` rely on it), and if
    // that one failed, this one tries.
    e.changed.wait(lock, [&] { return !e.starting && (!e.removed || e.gone); });
    if (e.removed) return absl::NotFoundError(absl::StrCat("no such container: ", Quoted(ref)));
    id = e.id;
    name = e.name;
    network = e.record.network_settings();
    removed_event = ContainerEvent(e.record, "remove");
    if (IsLive(e.record.state()) && !force) {
      return absl::FailedPreconditionError(absl::StrCat("container ", name, " is ", StateName(e.record.state()),
                                                        ": stop it first or remove with force"));
    }
    // A created container's init waits at the start gate under its shim: end both.
    if (absl::Status st = KillAndWait(e, lock); !st.ok()) return st;
    cgroup_removed = e.cgroup_removed_by_shim;
    e.removed = true;
    e.changed.notify_all();
  }
  CrashPoint("remove.killed");
  // Rename first so a crash mid-removal leaves a trash dir that Recover() finishes off,
  // never a half-deleted record that still looks like a container.
  std::string trash = absl::StrCat(ContainersDir(), "/.trash-", id);
  if (::rename(e.paths.dir.c_str(), trash.c_str()) != 0) {
    absl::Status st = ErrnoToStatus(absl::StrCat("remove container ", name, ": rename ", e.paths.dir));
    std::lock_guard<std::mutex> el(e.mu);
    e.removed = false;
    e.changed.notify_all();
    return st;
  }
  CrashPoint("remove.renamed");
  {
    std::lock_guard<std::mutex> lock(mu_);
    by_id_.erase(id);
    names_.erase(name);
  }
  // After the rename: a crash from here on leaves a lease whose container has no record,
  // which start-up reconciliation frees.
  networks_.Release(id, network);
  if (options_.userns_pool != nullptr) (void)options_.userns_pool->Release(id);
  ReleaseVolumes(id, remove_volumes);
  trash_.Discard(std::move(trash));  // out of view already: the unlinks need not hold up the caller
  // The shim removes the container's cgroup as init ends and says so in its exit report;
  // then only its empty parents (a pod's) are left for here.
  RemoveEmptyCgroups(cgroups_, options_.cgroup_parent,
                     cgroup_removed ? e.cgroups_path.substr(0, e.cgroups_path.rfind('/')) : e.cgroups_path);
  {
    std::lock_guard<std::mutex> el(e.mu);
    e.gone = true;
  }
  e.changed.notify_all();
  CrashPoint("remove.tree_discarded");
  spdlog::info("container removed id={} name={}", id, name);
  Emit(std::move(removed_event));
  return absl::OkStatus();
}

absl::StatusOr<v1::Container> ContainerManager::Inspect(const std::string& ref) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  std::lock_guard<std::mutex> lock((*entry)->mu);
  return (*entry)->record;
}

absl::StatusOr<v1::Container> ContainerManager::Wait(const std::string& ref, const std::function<bool()>& cancelled) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::unique_lock<std::mutex> lock(e.mu);
  while (!WaitExited(e, lock, 50)) {
    if (cancelled()) return absl::CancelledError("wait cancelled by the client");
  }
  return e.record;
}

absl::Status ContainerManager::Pause(const std::string& ref) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::lock_guard<std::mutex> lock(e.mu);
  if (e.record.state() != v1::RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("container ", e.record.name(), " is ",
                                                      StateName(e.record.state()), "; only a running container can be paused"));
  }
  if (absl::Status st = AskShim(e, shim::MsgType::kPause, ""); !st.ok()) return Annotate(st, "pause");
  e.record.set_state(v1::PAUSED);
  absl::Status persisted = Persist(e);
  Emit(ContainerEvent(e.record, "pause"));
  return persisted;
}

absl::Status ContainerManager::Resume(const std::string& ref) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::lock_guard<std::mutex> lock(e.mu);
  if (e.record.state() != v1::PAUSED) {
    return absl::FailedPreconditionError(absl::StrCat("container ", e.record.name(), " is ",
                                                      StateName(e.record.state()), ", not paused"));
  }
  if (absl::Status st = AskShim(e, shim::MsgType::kResume, ""); !st.ok()) return Annotate(st, "resume");
  e.record.set_state(v1::RUNNING);
  absl::Status persisted = Persist(e);
  Emit(ContainerEvent(e.record, "resume"));
  return persisted;
}

shim::ResourceLimits ContainerManager::LimitsFor(const v1::Resources& r) {
  shim::ResourceLimits limits;
  limits.memory_limit_bytes = r.memory_limit_bytes();
  if (r.cpu_millis() > 0) {
    limits.cpu_period_us = 100000;  // as at create (bundle.cc)
    limits.cpu_quota_us = r.cpu_millis() * 100;
  }
  limits.cpu_shares = static_cast<uint64_t>(r.cpu_shares());
  limits.pids_limit = r.pids_limit();
  return limits;
}

absl::StatusOr<v1::Container> ContainerManager::Update(const v1::UpdateRequest& request) {
  for (auto [field, value] : {std::pair<const char*, int64_t>{"memory_limit_bytes", request.memory_limit_bytes()},
                              {"cpu_millis", request.cpu_millis()},
                              {"cpu_shares", request.cpu_shares()},
                              {"pids_limit", request.pids_limit()}}) {
    if (value < 0) return absl::InvalidArgumentError(absl::StrCat(field, " must not be negative, got ", value));
  }
  if (request.has_cpu_shares() && request.cpu_shares() != 0 && (request.cpu_shares() < 2 || request.cpu_shares() > 262144)) {
    return absl::InvalidArgumentError(absl::StrCat("cpu_shares must be 2 to 262144, got ", request.cpu_shares()));
  }
  auto entry = Find(request.id());
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::lock_guard<std::mutex> lock(e.mu);
  if (e.removed) return absl::NotFoundError(absl::StrCat("no such container: ", Quoted(request.id())));
  if (request.has_restart_policy()) {
    if (absl::Status st = CheckRestartPolicy(request.restart_policy(), e.record.config().auto_remove()); !st.ok()) {
      return st;
    }
  }
  const bool limits = request.has_memory_limit_bytes() || request.has_cpu_millis() || request.has_cpu_shares() ||
                      request.has_pids_limit();
  if (limits) {
    if (e.record.state() == v1::EXITED) {
      return absl::FailedPreconditionError(absl::StrCat("container ", e.name, " has exited; its limits cannot change"));
    }
    v1::Resources merged = e.record.resources();
    if (request.has_memory_limit_bytes()) merged.set_memory_limit_bytes(request.memory_limit_bytes());
    if (request.has_cpu_millis()) merged.set_cpu_millis(request.cpu_millis());
    if (request.has_cpu_shares()) merged.set_cpu_shares(request.cpu_shares());
    if (request.has_pids_limit()) merged.set_pids_limit(request.pids_limit());
    if (absl::Status st = AskShim(e, shim::MsgType::kUpdate, shim::Encode(LimitsFor(merged))); !st.ok()) {
      return Annotate(st, absl::StrCat("update container ", e.name));
    }
    *e.record.mutable_resources() = merged;
  }
  // The policy applies from its next exit on, as with docker update --restart.
  if (request.has_restart_policy()) *e.record.mutable_config()->mutable_restart_policy() = request.restart_policy();
  if (absl::Status st = Persist(e); !st.ok()) return st;
  spdlog::info("container updated id={}", e.id);
  return e.record;
}

absl::StatusOr<v1::Container> ContainerManager::Rename(const std::string& ref, const std::string& new_name) {
  if (absl::Status st = ValidateName(new_name); !st.ok()) return st;
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::string old_name;
  {
    // mu_ then the container's: Find reads names under mu_ alone, messages under the
    // container's lock alone, so the name changes under both.
    std::lock_guard<std::mutex> lock(mu_);
    std::lock_guard<std::mutex> el(e.mu);
    if (e.removed) return absl::NotFoundError(absl::StrCat("no such container: ", Quoted(ref)));
    old_name = e.name;
    if (new_name == old_name) return e.record;
    if (auto it = names_.find(new_name); it != names_.end()) {
      return absl::AlreadyExistsError(absl::StrCat("the name ", Quoted(new_name), " is already in use by container ",
                                                   it->second.empty() ? "being created" : it->second.substr(0, 12)));
    }
    v1::Container renamed = e.record;
    renamed.set_name(new_name);
    renamed.mutable_config()->set_name(new_name);
    // The record first: if it cannot be written, nothing changed.
    if (absl::Status st = SaveRecord(e.paths.record, renamed); !st.ok()) return Annotate(st, "rename: write record");
    e.record = std::move(renamed);
    e.name = new_name;
    names_.erase(old_name);
    names_[new_name] = e.id;
  }
  networks_.RenameContainer(e.id, old_name, new_name);
  spdlog::info("container renamed id={} from={} to={}", e.id, old_name, new_name);
  std::lock_guard<std::mutex> el(e.mu);
  v1::Event event = ContainerEvent(e.record, "rename");
  (*event.mutable_attributes())["old_name"] = old_name;
  Emit(std::move(event));
  return e.record;
}

absl::StatusOr<std::vector<v1::TopProcess>> ContainerManager::Top(const std::string& ref) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    if (e.removed || e.record.state() == v1::EXITED) {
      return absl::FailedPreconditionError(absl::StrCat("container ", e.name, " is not running"));
    }
  }
  absl::StatusOr<shim::Message> reply = ShimRequest(e.paths.dir, shim::MsgType::kProcesses);
  if (!reply.ok()) return Annotate(reply.status(), absl::StrCat("list the processes of container ", NameOf(e)));
  if (reply->type != shim::MsgType::kProcessList) return absl::InternalError("top: unexpected reply from the shim");
  absl::StatusOr<shim::ProcessList> list = shim::Decode<shim::ProcessList>(reply->payload);
  if (!list.ok()) return list.status();
  std::vector<v1::TopProcess> out;
  for (int pid : list->pids) {
    absl::StatusOr<ProcessInfo> info = ReadProcessInfo(pid);
    if (!info.ok()) continue;  // exited since the shim listed it
    v1::TopProcess& p = out.emplace_back();
    p.set_pid(info->pid);
    p.set_ppid(info->ppid);
    p.set_uid(info->uid);
    p.set_state(std::string(1, info->state));
    p.set_cpu_time_ms(static_cast<int64_t>(info->cpu_time_ms));
    p.set_rss_bytes(static_cast<int64_t>(info->rss_bytes));
    p.set_command(info->command);
  }
  std::sort(out.begin(), out.end(), [](const v1::TopProcess& a, const v1::TopProcess& b) { return a.pid() < b.pid(); });
  return out;
}

absl::Status ContainerManager::ReopenLog(const std::string& ref) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  // paths are fixed at create: no lock is taken, the shim answers whatever else it is doing.
  absl::StatusOr<shim::Message> reply = ShimRequest((*entry)->paths.dir, shim::MsgType::kReopenLog);
  if (absl::IsNotFound(reply.status()) || absl::IsUnavailable(reply.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", Quoted(ref, 64), " is not running: its log is not open"));
  }
  if (!reply.ok()) return reply.status();
  if (reply->type != shim::MsgType::kOk) return absl::InternalError("the shim did not confirm the reopen");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ContainerManager::LogPath(const std::string& ref) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  return (*entry)->paths.log;
}

std::set<std::string> ContainerManager::ImagesInUse() {
  std::set<std::string> out;
  for (const auto& [id, count] : ImageUseCounts()) out.insert(id);
  return out;
}

std::map<std::string, int> ContainerManager::ImageUseCounts() {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : by_id_) entries.push_back(e);
  }
  std::map<std::string, int> out;
  for (const auto& e : entries) {
    std::lock_guard<std::mutex> lock(e->mu);
    if (!e->removed && !e->record.image_id().empty()) ++out[e->record.image_id()];
  }
  return out;
}

std::pair<int, int64_t> ContainerManager::ContainersDiskUsage() {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : by_id_) entries.push_back(e);
  }
  int64_t bytes = 0;
  for (const auto& e : entries) bytes += DirectorySize(e->paths.upper) + DirectorySize(e->paths.log);
  return {static_cast<int>(entries.size()), bytes};
}

bool ContainerManager::HasExited(const std::string& id) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return true;
    e = it->second;
  }
  std::lock_guard<std::mutex> lock(e->mu);
  return e->removed || e->record.state() == v1::EXITED;
}

}  // namespace berth::agent
