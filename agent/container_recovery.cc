// ContainerManager start-up: reconcile the durable records with what really runs, and
// remove whatever a crash left half-made.
#include <net/if.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "agent/logging.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/container_manager.h"
#include "agent/container_cgroup.h"
#include "agent/container_record.h"
#include "agent/ids.h"
#include "agent/shim_client.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"
#include "runtime/lifecycle/live_container.h"
#include "runtime/shim/shim_protocol.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

absl::Status ContainerManager::Recover() {
  // 0711: containers with a user namespace reach their own directory as an unprivileged id.
  if (absl::Status st = MakeDirs(ContainersDir(), 0711); !st.ok()) return st;
  if (::chmod(ContainersDir().c_str(), 0711) != 0) return ErrnoToStatus(absl::StrCat("chmod ", ContainersDir()));
  // Each container's tree (made, then deleted whole) in a block group of its own: on an ext4
  // without a journal, making an inode steps over every inode of its group deleted in the
  // last few seconds, so with all containers in one group, churn made each create slower.
  (void)MarkTopOfTrees(ContainersDir());
  int live = 0, exited_before = 0, exits_found = 0, half_made = 0;
  for (const std::string& name : ListDirectory(ContainersDir())) {
    if (absl::StartsWith(name, ".trash-")) {
      (void)RemoveTree(ContainersDir() + "/" + name);
      continue;
    }
    if (!IsFullId(name)) continue;
    const std::string record = ContainerPaths::For(ContainersDir(), name).record;
    if (::access(record.c_str(), F_OK) != 0 && !AdoptPendingRecordOfEarlierBoot(record, boot_id_)) {
      RemoveOrphan(name);
      ++half_made;
      continue;
    }
    switch (RecoverOne(name)) {
      case Recovered::kLive: ++live; break;
      case Recovered::kExitedBefore: ++exited_before; break;
      case Recovered::kExitFound: ++exits_found; break;
    }
  }
  CollectUnknownCgroups();
  ReconcileNetworks();
  if (options_.userns_pool != nullptr) {
    std::set<std::string> known;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : by_id_) known.insert(id);
    options_.userns_pool->Reconcile(known);
  }
  // Restart policies: what exited while the agent was down (or before) starts again now.
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : by_id_) entries.push_back(e);
  }
  int restarting = 0;
  int auto_removed = 0;
  for (const auto& e : entries) {
    std::optional<absl::Duration> delay;
    bool remove = false;
    {
      std::lock_guard<std::mutex> lock(e->mu);
      delay = RestartDelay(*e, /*at_startup=*/true);
      // A --rm container that exited while the agent was down, or before its removal: gone
      // now, as docker's daemon does at its start (--rm takes no restart policy).
      remove = e->record.config().auto_remove() && e->record.state() == v1::EXITED;
    }
    if (remove) {
      absl::Status st = Remove(e->id, /*force=*/true, /*remove_volumes=*/true);
      if (st.ok()) {
        ++auto_removed;
      } else {
        spdlog::warn("auto-remove at recovery id={} error=\"{}\"", e->id, st.message());
      }
      continue;
    }
    if (delay) {
      ScheduleRestart(e->id, *delay);
      ++restarting;
    }
  }
  spdlog::info(
      "recovered containers live={} exited={} exits_found={} half_made_removed={} restarting={} auto_removed={}",
      live, exited_before, exits_found, half_made, restarting, auto_removed);
  v1::Event event;
  event.set_type("agent.recovery");
  auto& a = *event.mutable_attributes();
  a["live"] = std::to_string(live);
  a["exited"] = std::to_string(exited_before);
  a["exits_found"] = std::to_string(exits_found);
  a["half_made_removed"] = std::to_string(half_made);
  a["restarting"] = std::to_string(restarting);
  a["auto_removed"] = std::to_string(auto_removed);
  Emit(std::move(event));
  return absl::OkStatus();
}

void ContainerManager::ReconcileNetworks() {
  std::map<std::string, v1::NetworkSettings> containers;
  std::map<std::string, std::string> names;
  std::map<std::string, int> pids;
  std::vector<std::string> running;
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : by_id_) entries.push_back(e);
  }
  for (const auto& e : entries) {
    std::lock_guard<std::mutex> lock(e->mu);
    containers[e->id] = e->record.network_settings();
    names[e->id] = e->record.name();
    pids[e->id] = e->record.pid();
    if (e->record.state() != v1::EXITED) running.push_back(e->id);
  }
  networks_.Reconcile(containers, running);
  for (const std::string& id : running) {
    // Its veth went while the agent was down (someone deleted it): made again, with the
    // recorded address, as a record promises a connected container.
    const v1::NetworkSettings& settings = containers[id];
    if (settings.mode() == "bridge" && pids[id] > 0 && ::if_nametoindex(HostInterfaceFor(id).c_str()) == 0) {
      absl::Status connected = networks_.Connect(id, settings, pids[id]);
      if (connected.ok()) {
        spdlog::info("connected again the network of a container whose veth was gone id={}", id);
      } else {
        spdlog::error("cannot connect the network of container id={} error=\"{}\"", id, connected.message());
      }
    }
    networks_.RegisterNames(id, names[id], settings);
  }
}

void ContainerManager::RemoveOrphan(const std::string& id) {
  ContainerPaths paths = ContainerPaths::For(ContainersDir(), id);
  auto state = shim::ReadStateFile(paths.dir);
  // The bundle, when it was written, says where the cgroup went (a cgroup_parent of its own).
  absl::StatusOr<spec::Spec> bundle = spec::LoadBundle(paths.bundle);
  const std::string cgroups_path = bundle.ok() && !bundle->linux.cgroups_path.empty() ? bundle->linux.cgroups_path
                                                                                       : CgroupsPathFor(id, "");
  lifecycle::LiveContainer live{0, 0, cgroups_path};
  if (state.ok()) {
    (void)shim::EndShim(*state);
    live.pid = state->pid;
    live.pid_start_time = state->pid_start_time;
  }
  (void)lifecycle::DestroyContainer(cgroups_, live);
  RemoveEmptyCgroups(cgroups_, options_.cgroup_parent, cgroups_path);
  (void)RemoveTree(paths.dir);
  spdlog::info("removed half-created container id={}", id);
}

ContainerManager::Recovered ContainerManager::RecoverOne(const std::string& id) {
  ContainerPaths paths = ContainerPaths::For(ContainersDir(), id);
  auto record = LoadRecord(paths.record);
  if (!record.ok()) {
    // Never drop a container silently: keep it visible, marked with what went wrong.
    spdlog::error("container record unreadable id={} error=\"{}\"", id, record.status().message());
    v1::Container c;
    c.set_id(id);
    c.set_name(id.substr(0, 12));
    c.set_state(v1::EXITED);
    c.set_exit_code(255);
    c.set_error(absl::StrCat("record unreadable: ", record.status().message()));
    record = c;
  }
  auto entry = std::make_shared<Entry>();
  entry->id = id;
  entry->name = record->name();
  entry->paths = paths;
  if (!record->config().log().path().empty()) entry->paths.log = record->config().log().path();
  entry->cgroups_path = CgroupsPathFor(id, record->config().cgroup_parent());
  bool watch = false;
  Recovered outcome = Recovered::kExitedBefore;
  ReacquireVolumes(*record);
  {
    std::lock_guard<std::mutex> el(entry->mu);
    entry->record = *record;
    if (entry->record.state() != v1::EXITED) {
      auto state = shim::ReadStateFile(paths.dir);
      if (state.ok() && ProcessAlive(state->shim_pid, state->shim_start_time)) {
        entry->pid_start_time = state->pid_start_time;
        // A start (or pause) that the shim carried out just before the agent died.
        if ((state->status == "running" || state->status == "paused") && entry->record.state() == v1::CREATED) {
          entry->record.set_state(v1::RUNNING);
          *entry->record.mutable_started_at() =
              google::protobuf::util::TimeUtil::NanosecondsToTimestamp(state->started_at_ns);
          (void)Persist(*entry);
        }
        watch = true;
        outcome = Recovered::kLive;
      } else {
        ApplyExit(*entry, std::nullopt, /*at_recovery=*/true);
        outcome = Recovered::kExitFound;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    by_id_[id] = entry;
    names_[entry->name] = id;
  }
  if (watch) {
    std::lock_guard<std::mutex> el(entry->mu);
    const v1::ContainerState s = entry->record.state();
    if (s == v1::RUNNING || s == v1::PAUSED) StartProbing(*entry, /*fresh_start=*/false);
  }
  if (watch) WatchShim(entry);
  return outcome;
}

void ContainerManager::CollectUnknownCgroups() { CollectUnknownCgroupsBelow(options_.cgroup_parent, 0); }

void ContainerManager::CollectUnknownCgroupsBelow(const std::string& parent, int depth) {
  // Container cgroups are <parent>/<id>; one whose id has no record is a leftover. Other
  // names are containers' own cgroup parents (kubepods/...): looked into, and removed once
  // empty.
  std::set<std::string> parents;  // seen once per hierarchy
  lifecycle::RemoveUnknownCgroups(cgroups_, parent, [&](const std::string& name) {
    if (!IsFullId(name)) {
      parents.insert(absl::StrCat(parent, "/", name));
      return true;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (by_id_.count(name) > 0) return true;
    spdlog::info("removing leftover cgroup id={}", name);
    return false;
  });
  if (depth >= 16) return;
  for (const std::string& p : parents) {
    CollectUnknownCgroupsBelow(p, depth + 1);
    (void)cgroups_.RemoveEmpty(p);
  }
}

}  // namespace berth::agent
