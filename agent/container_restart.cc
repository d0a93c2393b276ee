// Restart policies: which exited containers start again and when, the one thread that
// starts them, and Relaunch, which gives an exited container a new process (a new shim on
// the same bundle and root file system, the same address, its current limits).
#include <signal.h>

#include <spdlog/spdlog.h>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "agent/container_manager.h"
#include "agent/container_record.h"
#include "agent/shim_client.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/proc_util.h"
#include "runtime/shim/shim_messages.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::agent {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kFirstDelay = absl::Milliseconds(100);
constexpr absl::Duration kMaxDelay = absl::Minutes(1);
constexpr absl::Duration kRanLongEnough = absl::Seconds(10);

}  // namespace

std::optional<absl::Duration> ContainerManager::RestartDelay(Entry& e, bool at_startup) {
  const v1::Container& c = e.record;
  if (c.state() != v1::EXITED) return std::nullopt;
  const std::string& policy = c.config().restart_policy().name();
  bool restart = false;
  if (policy == "always") {
    restart = at_startup || !c.stopped_by_caller();
  } else if (policy == "unless-stopped") {
    restart = !c.stopped_by_caller();
  } else if (policy == "on-failure") {
    const int max = c.config().restart_policy().max_retries();
    restart = !c.stopped_by_caller() && c.exit_code() != 0 && (max == 0 || c.restart_count() < max);
  }
  if (!restart) return std::nullopt;
  if (at_startup) return absl::ZeroDuration();
  // Back off: 100 ms, doubling to a minute; from the start again once it ran 10 s.
  const absl::Duration ran = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(c.finished_at())) -
                             absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(c.started_at()));
  if (ran >= kRanLongEnough) e.backoff_steps = 0;
  absl::Duration delay = kFirstDelay;
  for (int i = 0; i < e.backoff_steps && delay < kMaxDelay; ++i) delay *= 2;
  ++e.backoff_steps;
  return std::min(delay, kMaxDelay);
}

void ContainerManager::ScheduleRestart(const std::string& id, absl::Duration delay) {
  std::lock_guard<std::mutex> lock(restarts_mu_);
  restarts_[id] = absl::Now() + delay;
  restarts_cv_.notify_one();
}

void ContainerManager::RunRestarts() {
  std::unique_lock<std::mutex> lock(restarts_mu_);
  for (;;) {
    if (restarts_stopping_) return;
    if (restarts_.empty()) {
      restarts_cv_.wait(lock);
      continue;
    }
    auto next = std::min_element(restarts_.begin(), restarts_.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    const absl::Time now = absl::Now();
    if (next->second > now) {
      restarts_cv_.wait_for(lock, absl::ToChronoNanoseconds(next->second - now));
      continue;
    }
    const std::string id = next->first;
    restarts_.erase(next);
    lock.unlock();
    auto entry = Find(id);
    if (entry.ok()) {
      if (absl::Status st = Relaunch(*entry, /*by_policy=*/true); !st.ok()) {
        spdlog::warn("restart id={} error=\"{}\"", id, std::string(st.message()));
        // It stays exited with the reason; its policy may try again later.
        std::optional<absl::Duration> again;
        {
          std::lock_guard<std::mutex> el((*entry)->mu);
          if (!(*entry)->removed) again = RestartDelay(**entry, false);
        }
        if (again) ScheduleRestart(id, std::max(*again, absl::Seconds(1)));
      }
    }
    lock.lock();
  }
}

absl::Status ContainerManager::Relaunch(const std::shared_ptr<Entry>& entry, bool by_policy) {
  Entry& e = *entry;
  v1::Container record;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    if (e.removed) return absl::NotFoundError(absl::StrCat("container ", e.name, " was removed"));
    if (e.record.state() != v1::EXITED || e.starting) {
      return absl::FailedPreconditionError(absl::StrCat("container ", e.name, " is not exited"));
    }
    e.starting = true;
    // The new shim makes a cgroup again; until its exit report says otherwise, a Remove
    // removes it.
    e.cgroup_removed_by_shim = false;
    record = e.record;
  }
  auto done = [&](absl::Status st) {
    std::lock_guard<std::mutex> lock(e.mu);
    e.starting = false;
    if (!st.ok()) {
      e.record.set_error(std::string(st.message()));
      (void)Persist(e);
    }
    e.changed.notify_all();
    return st;
  };
  ShimLaunch launch{e.id, e.paths.bundle, e.paths.dir, e.paths.log, false};
  launch.log_max_size_bytes = record.config().log().max_size_bytes();
  launch.log_max_files = record.config().log().max_files();
  UniqueFd joined_netns;
  const v1::NetworkSettings& network = record.network_settings();
  if (network.mode() == "container") {
    auto target = Find(network.container_id());
    if (!target.ok()) return done(Annotate(target.status(), "restart: the container whose network it joins"));
    int pid = 0;
    uint64_t start_time = 0;
    {
      std::lock_guard<std::mutex> lock((*target)->mu);
      if ((*target)->record.state() != v1::RUNNING) {
        return done(absl::FailedPreconditionError("restart: the container whose network it joins is not running"));
      }
      pid = (*target)->record.pid();
      start_time = (*target)->pid_start_time;
    }
    auto netns = OpenNamespaceOf(pid, start_time, "net");
    if (!netns.ok()) return done(netns.status());
    joined_netns = std::move(*netns);
    launch.inherit_fds.push_back(joined_netns.get());
  }
  // The ipc, uts and pid namespaces it shares, in the order its spec names them.
  auto namespaces = PlanNamespaces(record.config());
  if (!namespaces.ok()) return done(Annotate(namespaces.status(), "restart"));
  SpecNetwork unused;
  namespaces->AddTo(unused, launch.inherit_fds);
  auto launched = launcher_.Launch(launch, [](const LaunchedShim&) {});
  joined_netns.Reset();
  namespaces->fds.clear();
  if (!launched.ok()) return done(Annotate(launched.status(), "restart"));
  auto end_it = [&](absl::Status st) {
    (void)ShimRequest(e.paths.dir, shim::MsgType::kKill, shim::Encode(shim::KillRequest{SIGKILL, false}));
    return done(st);
  };
  if (network.mode() == "bridge") {
    if (absl::Status st = networks_.Connect(e.id, network, launched->init_pid); !st.ok()) {
      return end_it(Annotate(st, "restart: connect the network"));
    }
    networks_.RegisterNames(e.id, record.name(), network);
  }
  // Limits changed by Update since the bundle was written.
  if (absl::Status st = AskShim(e, shim::MsgType::kUpdate, shim::Encode(LimitsFor(record.resources())));
      !st.ok()) {
    return end_it(Annotate(st, "restart: apply the container's limits"));
  }
  absl::StatusOr<UniqueFd> conn = ShimOpen(e.paths.dir, shim::MsgType::kStart);
  absl::StatusOr<shim::Message> reply = conn.ok() ? shim::ReceiveMessage(conn->get()) : conn.status();
  if (reply.ok() && reply->type == shim::MsgType::kError) reply = shim::DecodeError(reply->payload);
  if (!reply.ok()) return end_it(Annotate(reply.status(), "restart: start"));
  {
    std::lock_guard<std::mutex> lock(e.mu);
    v1::Container& c = e.record;
    c.set_state(v1::RUNNING);
    c.set_pid(launched->init_pid);
    e.pid_start_time = launched->init_start_time;
    auto started = shim::Decode<shim::Started>(reply->payload);
    *c.mutable_started_at() = TimeUtil::NanosecondsToTimestamp(
        started.ok() && started->started_at_ns > 0 ? started->started_at_ns : absl::GetCurrentTimeNanos());
    c.clear_finished_at();
    c.set_exit_code(0);
    c.set_oom_killed(false);
    c.clear_error();
    // Docker counts only the policy's restarts; a caller's start is a start.
    if (by_policy) c.set_restart_count(c.restart_count() + 1);
    StartProbing(e);
    (void)Persist(e);
    v1::Event event = ContainerEvent(c, by_policy ? "restart" : "start");
    if (by_policy) (*event.mutable_attributes())["restart_count"] = std::to_string(c.restart_count());
    Emit(std::move(event));
    spdlog::info("container {} id={} count={}", by_policy ? "restarted" : "started again", e.id, c.restart_count());
  }
  absl::Status st = done(absl::OkStatus());
  WatchShim(entry);
  return st;
}

}  // namespace berth::agent
