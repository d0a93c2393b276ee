// The agent's containers: the durable records, their lifecycle (each verb re-reads the
// state and checks it before acting), and the link to each container's berth-shim.
// Thread-safe; no method forks or enters a namespace (the shim does that).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/bundle.h"
#include "agent/event_hub.h"
#include "agent/exit_watcher.h"
#include "agent/health_prober.h"
#include "agent/image/image_store.h"
#include "agent/network_manager.h"
#include "agent/seccomp_cache.h"
#include "agent/shim_launcher.h"
#include "agent/trash_sweeper.h"
#include "agent/tree_archive.h"
#include "agent/userns_pool.h"
#include "agent/volume_store.h"
#include "berth/v1/containers.pb.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/shim/shim_protocol.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

struct ManagerOptions {
  std::string root;           // <root>/containers holds one dir per container
  std::string shim_path;      // berth-shim
  std::string cgroup_parent;  // container cgroup = <cgroup_parent>/<id>
  std::vector<std::string> dns;         // resolv.conf defaults (the agent's config)
  std::vector<std::string> dns_search;
  std::string node_resolv_conf = "/etc/resolv.conf";
  std::string init_path;                 // berth-init, bind-mounted for --init
  std::string default_userns = "host";   // what an empty security.userns means
  UsernsPool* userns_pool = nullptr;     // ranges for --userns=auto (required for it)
  int shim_exec_fd = -1;                 // a sealed copy of shim_path to execute, or -1
  EventHub* events = nullptr;            // where lifecycle events go (none when null)
  VolumeStore* volumes = nullptr;        // named volumes (volume mounts are refused without)
  std::string scratch_dir = "/tmp";      // uploads spooled before they are unpacked (cp)
  int64_t log_max_size_bytes = 10 << 20;  // a container's log rotation unless it asks otherwise
  int log_max_files = 3;
};

// The part of a container's spec that every exec in it starts from (container_io.cc): its
// process (env, cwd, user, capabilities, rlimits) and the image layers a user name is looked
// up in.
struct ExecBase {
  spec::Process process;
  std::vector<std::string> layers;
};

// A process started by Exec: `connection` later carries kExit; `fds` per shim_protocol.h.
struct ExecHandle {
  std::string container_id;
  std::string exec_id;  // names the process in its exec.start and exec.exit events
  UniqueFd connection;
  std::vector<UniqueFd> fds;
  int pid = 0;
  bool tty = false;
  bool stdin = false;
};

// An Attach: `connection` carries kStdout/kStderr then kExit; `input` is the container's
// stdin writer or its pty master when stdin was asked for and available.
struct AttachHandle {
  UniqueFd connection;
  UniqueFd input;
  bool tty = false;
};

// What ExecToCompletion saw: the output (each stream cut at its limit) and the exit code,
// unset when the process was killed at its deadline (timed_out) or its end was not reported.
struct ExecOutcome {
  std::string out;
  std::string err;
  std::optional<int> exit_code;
  bool timed_out = false;
};

class ContainerManager {
 public:
  ContainerManager(ManagerOptions options, CgroupDriver& cgroups, image::ImageStore& images, NetworkManager& networks);
  ~ContainerManager();

  // Loads every record, reconnects to live shims, records exits that happened while the
  // agent was away, and removes what a crash left half-made (dirs without a record, their
  // shims and cgroups, cgroups of unknown containers).
  absl::Status Recover();

  absl::StatusOr<v1::Container> Create(const v1::ContainerConfig& config);
  absl::StatusOr<v1::Container> Start(const std::string& ref);
  // signal 0: the container's stop signal; no timeout: the container's (else 10 s).
  absl::StatusOr<v1::Container> Stop(const std::string& ref, int signal, std::optional<int> timeout_seconds);
  absl::Status Kill(const std::string& ref, int signal);
  // `remove_volumes`: its anonymous volumes go too (`rm -v`).
  absl::Status Remove(const std::string& ref, bool force, bool remove_volumes = false);
  absl::StatusOr<v1::Container> Inspect(const std::string& ref);
  // Newest first; LIST_VIEW_SUMMARY: each record cut to what a listing shows.
  absl::StatusOr<std::vector<v1::Container>> List(const std::string& label_selector,
                                                  const std::vector<v1::ContainerState>& states,
                                                  v1::ListView view = v1::LIST_VIEW_FULL);
  // The same as the wire bytes of a berth.v1.ListResponse: what List's gRPC method sends,
  // written straight from the records.
  absl::StatusOr<std::string> ListEncoded(const std::string& label_selector,
                                          const std::vector<v1::ContainerState>& states, v1::ListView view);
  // Blocks until the container exited; `cancelled` is polled so a gone client frees the thread.
  absl::StatusOr<v1::Container> Wait(const std::string& ref, const std::function<bool()>& cancelled);
  absl::Status Pause(const std::string& ref);
  absl::Status Resume(const std::string& ref);
  // New limits for a created, running or paused container, written to its cgroup by its shim
  // and kept in its record.
  // With a restart policy in the request, also a stopped one's policy.
  absl::StatusOr<v1::Container> Update(const v1::UpdateRequest& request);
  // A new name, free and valid, for a container in any state.
  absl::StatusOr<v1::Container> Rename(const std::string& ref, const std::string& new_name);
  // What containers use (cgroup and network counters): the named ones (NOT_FOUND for an
  // unknown one; one that is not running comes without figures), or every running and paused
  // one when `refs` is empty. Sorted by name.
  absl::StatusOr<std::vector<v1::ContainerStats>> Stats(const std::vector<std::string>& refs);
  // The processes in the container's cgroup, as its shim lists them.
  absl::StatusOr<std::vector<v1::TopProcess>> Top(const std::string& ref);

  // `announce`: exec.start and exec.exit events (not for the agent's own health probes).
  absl::StatusOr<ExecHandle> Exec(const std::string& ref, const v1::ProcessSpec& process, bool announce = true);
  // The exec's process ended with `exit_code` (its exec.exit event).
  void ExecExited(const ExecHandle& exec, int exit_code);
  // The caller stops reading the exec's connection before its exit: the agent watches it
  // so that the exit is still recorded.
  void WatchExecExit(ExecHandle exec);
  absl::StatusOr<AttachHandle> Attach(const std::string& ref, bool want_stdin);
  // Runs `process` in the container to its end, without stdin or a terminal, keeping up to
  // `max_output` bytes of each stream; past `deadline`, or once `stopping` says so, it is
  // killed. Errors are Exec's (the container is not running, the process cannot start).
  absl::StatusOr<ExecOutcome> ExecToCompletion(const std::string& ref, const v1::ProcessSpec& process,
                                               absl::Time deadline, size_t max_output,
                                               const std::function<bool()>& stopping, bool announce);

  // berth cp (container_copy.cc): the tar at `archive_path` unpacked at `path` in the
  // container (UnpackTreeArchive's rules); returns the entries written.
  absl::StatusOr<int64_t> CopyTo(const std::string& ref, const std::string& path, const std::string& archive_path,
                                 bool keep_owner);
  // What `path` is (to `on_stat`, first), then a tar of it (to `sink`).
  absl::Status CopyFrom(const std::string& ref, const std::string& path,
                        const std::function<absl::Status(const v1::PathStat&)>& on_stat, const ArchiveSink& sink);
  // Where callers may spool uploads (the agent's tmp/, cleared at start).
  const std::string& scratch_dir() const { return options_.scratch_dir; }

  // Has the container's shim open its log file again at its path (someone renamed it to
  // rotate it). Never waits for the container's lifecycle lock (a stuck stop must not stall
  // log rotation); FAILED_PRECONDITION when no shim runs.
  absl::Status ReopenLog(const std::string& ref);
  // Log file of a container, and whether it still runs (Logs --follow stops after exit).
  absl::StatusOr<std::string> LogPath(const std::string& ref);
  bool HasExited(const std::string& id);

  std::string_view cgroup_driver_name() const;

  // Ids of the images that existing containers were created from (their layers must stay).
  std::set<std::string> ImagesInUse();
  // How many existing containers use each image id.
  std::map<std::string, int> ImageUseCounts();
  // Containers and the bytes of their writable layers and logs.
  std::pair<int, int64_t> ContainersDiskUsage();

 private:
  struct Entry {
    std::string id;    // immutable after Create
    std::string name ABSL_GUARDED_BY(mu);  // changed by Rename (under mu_ too)
    ContainerPaths paths;
    std::string cgroups_path;
    std::mutex mu;
    std::condition_variable changed;
    v1::Container record ABSL_GUARDED_BY(mu);
    uint64_t pid_start_time ABSL_GUARDED_BY(mu) = 0;
    bool removed ABSL_GUARDED_BY(mu) = false;  // a Remove took it on
    bool gone ABSL_GUARDED_BY(mu) = false;     // ... and finished: out of view, released
    bool starting ABSL_GUARDED_BY(mu) = false;  // a Start talks to the shim without the lock
    int backoff_steps ABSL_GUARDED_BY(mu) = 0;  // restarts since it last ran 10 s
    bool restart_for_health ABSL_GUARDED_BY(mu) = false;  // killed by --health-on-failure=restart
    // The last exit applied came from the shim's report that it removed the cgroup: a Remove
    // need not try each hierarchy again.
    bool cgroup_removed_by_shim ABSL_GUARDED_BY(mu) = false;
    // What an exec takes from the container's spec, read from config.json by the first exec:
    // the spec never changes after Create, and parsing all of it took 5% of an exec.
    std::shared_ptr<const ExecBase> exec_base ABSL_GUARDED_BY(mu);
  };

  // The network side of a Create: the namespace to make or join, the /etc files, and for
  // bridge networks a reserved address and ports (undone with NetworkManager::Release).
  struct NetworkPlan {
    SpecNetwork spec;
    v1::NetworkSettings settings;
    UniqueFd netns;  // container: mode: the other container's netns, passed to the shim
  };
  // The mounts of a Create (container_volumes.cc): every volume acquired (made when missing,
  // an anonymous one named) and filled from the image on its first mount. `recorded` is the
  // config as the record keeps it (volume names filled in), `for_spec` the one the spec is
  // built from (volumes as binds of their data dirs, tmpfs mounts as tmpfs entries). Undone
  // with ReleaseVolumes.
  struct MountPlan {
    v1::ContainerConfig recorded;
    v1::ContainerConfig for_spec;
    std::vector<std::string> created_volumes;
  };
  absl::StatusOr<MountPlan> PlanMounts(const v1::ContainerConfig& config, const std::string& id,
                                       const image::Image& image, std::optional<uint32_t> userns_root);
  void ReleaseVolumes(const std::string& id, bool remove_anonymous, const std::vector<std::string>& created = {});
  // Recovery: the container's volumes are in use again (made again if they vanished).
  void ReacquireVolumes(const v1::Container& record);
  absl::StatusOr<NetworkPlan> PlanNetwork(const v1::ContainerConfig& config, const std::string& id);
  // The ipc, uts and pid namespaces of a Create or a restart (container_namespaces.cc): the
  // node's, or a running container's, opened from its init. Undone by dropping it.
  struct NamespacePlan {
    std::vector<UniqueFd> fds;       // joined namespaces, in the order ipc, uts, pid
    std::vector<std::string> types;  // the OCI type of each fd
    std::set<std::string> host;      // types taken from the node
    std::string hostname;            // a joined uts namespace's host name (its owner's)
    std::map<std::string, std::string> recorded;  // type -> "host" or "container:<id>"
    // Appends the fds to those the shim inherits and names them in `spec`.
    void AddTo(SpecNetwork& spec, std::vector<int>& inherit_fds) const;
    // The modes with container ids, as the record keeps them.
    void Record(v1::ContainerConfig& config) const;
  };
  absl::StatusOr<NamespacePlan> PlanNamespaces(const v1::ContainerConfig& config);
  // Writes the new container's hosts, hostname and resolv.conf files (none may exist yet).
  absl::Status WriteEtcFiles(const v1::ContainerConfig& config, const std::string& id, const std::string& name,
                             const ContainerPaths& paths, const v1::NetworkSettings& settings);

  absl::StatusOr<std::shared_ptr<Entry>> Find(const std::string& ref);
  // Runs `fn` on the container's root file system as its processes see it, with the node id
  // its root maps to (0 without a user namespace).
  absl::Status WithRootFs(const std::string& ref, const std::function<absl::Status(int root_fd, uint32_t root_host_id)>& fn);
  std::string ContainersDir() const;
  // <agent parent>/[<own_parent>/]<id>; own_parent already clean (CleanCgroupParent).
  std::string CgroupsPathFor(const std::string& id, const std::string& own_parent) const;

  // Persists `entry->record` (caller holds entry->mu).
  absl::Status Persist(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.mu);
  // Asks the container's shim to send `signal` to init (it thaws a paused container for
  // SIGKILL and SIGTERM). A shim that is gone, or whose init is, is not an error: the exit
  // is on its way.
  absl::Status SignalInit(Entry& entry, int signal) ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.mu);
  // The limits the shim writes for `resources` (Update, and a restart after one).
  static shim::ResourceLimits LimitsFor(const v1::Resources& resources);
  // One request with a kOk answer (kKill, kPause, kResume) to the container's shim.
  absl::Status AskShim(Entry& entry, shim::MsgType type, const std::string& payload);
  // Waits until EXITED or `timeout_ms` passed (negative: forever); true when exited.
  bool WaitExited(Entry& entry, std::unique_lock<std::mutex>& lock, int timeout_ms);
  // Kills init (thawing a frozen cgroup) and waits for the exit to be recorded.
  absl::Status KillAndWait(Entry& entry, std::unique_lock<std::mutex>& lock);
  void WatchShim(const std::shared_ptr<Entry>& entry);
  void OnExit(const std::string& id, const std::optional<shim::ExitReport>& report);
  // Records an exit: the shim's report, or without one (the shim was gone before it could
  // tell) its state.json; a shim that died without recording the exit gets its container
  // ended by the runtime.
  // `at_recovery`: the exit happened while the agent was down (its event says so).
  void ApplyExit(Entry& entry, const std::optional<shim::ExitReport>& report = std::nullopt, bool at_recovery = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.mu);
  // What recovery found for one record.
  enum class Recovered { kLive, kExitedBefore, kExitFound };
  Recovered RecoverOne(const std::string& id);
  void RemoveOrphan(const std::string& id);
  void CollectUnknownCgroups();
  void CollectUnknownCgroupsBelow(const std::string& parent, int depth);
  // Frees addresses, veths and published ports that no recovered container owns.
  void ReconcileNetworks();
  void RunAutoRemovals();
  // Restart policies (container_restart.cc). Whether the policy wants the container that
  // just exited started again (at_startup: the agent is starting), and after how long.
  std::optional<absl::Duration> RestartDelay(Entry& entry, bool at_startup) ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.mu);
  void ScheduleRestart(const std::string& id, absl::Duration delay);
  void RunRestarts();
  // Starts an exited container's process again: a new shim on the same bundle, its network
  // connected again (same address), its current limits, then started. `by_policy`: its
  // restart policy's doing (counted in restart_count, a container.restart event), not a
  // caller's Start (a container.start event).
  absl::Status Relaunch(const std::shared_ptr<Entry>& entry, bool by_policy);
  // Health checks (container_health.cc): a prober for a container that just started running
  // (its health becomes "starting" unless `fresh_start` is false: the agent restarted and
  // finds it running), stopped at its exit.
  void StartProbing(Entry& entry, bool fresh_start = true) ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.mu);
  void StopProbing(const std::string& id);
  void ReapProbers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(probers_mu_);
  void StopAllProbers();
  std::optional<ProbeResult> RunProbe(const std::string& id, const v1::HealthCheck& check,
                                      const std::function<bool()>& stopping);
  void ApplyProbe(const std::string& id, const v1::HealthCheck& check, absl::Time started, const ProbeResult& result);
  // The name under the container's lock, for messages.
  static std::string NameOf(Entry& entry);
  void Emit(v1::Event event) {
    if (options_.events != nullptr) options_.events->Publish(std::move(event));
  }

  ManagerOptions options_;
  const std::string boot_id_;  // names a create's pending record (container_record.h)
  CgroupDriver& cgroups_;
  image::ImageStore& images_;
  NetworkManager& networks_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> by_id_ ABSL_GUARDED_BY(mu_);
  // name -> id; a Create in flight reserves its name with an empty id.
  std::map<std::string, std::string> names_ ABSL_GUARDED_BY(mu_);

  TrashSweeper trash_;  // removed containers' directories, deleted after the Remove returns

  std::mutex removals_mu_;
  std::condition_variable removals_cv_;
  std::deque<std::string> removals_ ABSL_GUARDED_BY(removals_mu_);
  bool stopping_ ABSL_GUARDED_BY(removals_mu_) = false;
  std::thread removals_thread_;

  std::mutex restarts_mu_;
  std::condition_variable restarts_cv_;
  std::map<std::string, absl::Time> restarts_ ABSL_GUARDED_BY(restarts_mu_);  // id -> when
  bool restarts_stopping_ ABSL_GUARDED_BY(restarts_mu_) = false;
  std::thread restarts_thread_;

  std::mutex probers_mu_;
  std::map<std::string, std::unique_ptr<HealthProber>> probers_ ABSL_GUARDED_BY(probers_mu_);
  // Told to stop, joined once they have (never under a container's lock while running).
  std::vector<std::unique_ptr<HealthProber>> retired_probers_ ABSL_GUARDED_BY(probers_mu_);

  SeccompCache seccomp_;
  ShimLauncher launcher_;

  ExitWatcher watcher_;  // last: its thread calls OnExit, so it stops first
};

}  // namespace berth::agent
