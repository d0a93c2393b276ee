// Health checks of running containers: one HealthProber per container whose record has a
// check, probes run as execs in the container (no exec events: they are the agent's own),
// results kept in the record with a container.health_status event on each change, and the
// on-failure action once a container turns unhealthy.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "agent/container_manager.h"
#include "agent/grpc_status.h"
#include "agent/shim_client.h"
#include "runtime/shim/shim_messages.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::agent {
namespace {

using google::protobuf::util::TimeUtil;

std::string Seconds(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace

void ContainerManager::StartProbing(Entry& e, bool fresh_start) {
  const v1::Container& c = e.record;
  if (!c.config().has_health_check() || c.config().health_check().test().empty()) return;
  v1::Health* health = e.record.mutable_health();
  if (fresh_start || health->status().empty()) {
    health->set_status("starting");
    health->set_failing_streak(0);
  }
  const v1::HealthCheck check = c.config().health_check();
  const absl::Time started = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(c.started_at()));
  const std::string id = e.id;
  auto prober = std::make_unique<HealthProber>(
      TimingOf(check).interval,
      [this, id, check](const std::function<bool()>& stopping) { return RunProbe(id, check, stopping); },
      [this, id, check, started](const ProbeResult& result) { ApplyProbe(id, check, started, result); });
  std::lock_guard<std::mutex> lock(probers_mu_);
  ReapProbers();
  if (auto old = probers_.find(id); old != probers_.end()) {
    old->second->RequestStop();
    retired_probers_.push_back(std::move(old->second));
  }
  probers_[id] = std::move(prober);
}

void ContainerManager::StopProbing(const std::string& id) {
  std::lock_guard<std::mutex> lock(probers_mu_);
  auto it = probers_.find(id);
  if (it == probers_.end()) return;
  it->second->RequestStop();
  retired_probers_.push_back(std::move(it->second));
  probers_.erase(it);
  ReapProbers();
}

void ContainerManager::ReapProbers() {
  // Only loops that have ended are joined here: a caller may hold a container's lock, which
  // a probe that is still reporting waits for.
  std::erase_if(retired_probers_, [](const std::unique_ptr<HealthProber>& p) { return p->finished(); });
}

void ContainerManager::StopAllProbers() {
  std::map<std::string, std::unique_ptr<HealthProber>> live;
  std::vector<std::unique_ptr<HealthProber>> retired;
  {
    std::lock_guard<std::mutex> lock(probers_mu_);
    live.swap(probers_);
    retired.swap(retired_probers_);
  }
  for (auto& [id, p] : live) p->RequestStop();
  for (auto& p : retired) p->RequestStop();
  // Destroying them joins their threads, outside probers_mu_.
}

std::optional<ProbeResult> ContainerManager::RunProbe(const std::string& id, const v1::HealthCheck& check,
                                                      const std::function<bool()>& stopping) {
  const HealthTiming timing = TimingOf(check);
  ProbeResult result;
  result.start = absl::Now();
  v1::ProcessSpec process;
  for (const std::string& arg : ProbeArgs(check)) process.add_args(arg);
  absl::StatusOr<ExecOutcome> ran =
      ExecToCompletion(id, process, result.start + timing.timeout, kHealthOutputMax, stopping, /*announce=*/false);
  result.end = absl::Now();
  if (!ran.ok()) {
    // Not running (any more): no result. A process that could not start is the check failing.
    const bool process_failed = ran.status().GetPayload(kProcessStartFailedKey).has_value();
    if (!process_failed && (absl::IsFailedPrecondition(ran.status()) || absl::IsNotFound(ran.status()))) {
      return std::nullopt;
    }
    result.exit_code = -1;
    result.output = std::string(ran.status().message());
    return result;
  }
  result.output = ran->out + ran->err;
  if (result.output.size() > kHealthOutputMax) result.output.resize(kHealthOutputMax);
  if (!ran->exit_code) {
    if (stopping()) return std::nullopt;
    result.exit_code = -1;
    if (ran->timed_out) result.output = absl::StrCat("Health check exceeded timeout (", Seconds(timing.timeout), ")");
    return result;
  }
  result.exit_code = *ran->exit_code;
  return result;
}

void ContainerManager::ApplyProbe(const std::string& id, const v1::HealthCheck& check, absl::Time started,
                                  const ProbeResult& result) {
  auto entry = Find(id);
  if (!entry.ok()) return;
  Entry& e = **entry;
  std::lock_guard<std::mutex> lock(e.mu);
  // A result from before an exit or a restart is stale.
  if (e.removed || e.record.state() != v1::RUNNING ||
      absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(e.record.started_at())) != started) {
    return;
  }
  const bool changed = RecordProbe(check, started, result, e.record.mutable_health());
  if (absl::Status st = Persist(e); !st.ok()) {
    spdlog::warn("persist health id={} error=\"{}\"", id, std::string(st.message()));
  }
  if (!changed) return;
  const std::string& status = e.record.health().status();
  spdlog::info("container health id={} status={} exit_code={}", id, status, result.exit_code);
  v1::Event event = ContainerEvent(e.record, "health_status");
  event.set_health_status(status);
  event.set_exit_code(result.exit_code);
  Emit(std::move(event));
  if (status != "unhealthy") return;
  const std::string& action = check.on_failure();
  if (action == "kill" || action == "restart") {
    e.restart_for_health = action == "restart";
    if (absl::Status st = SignalInit(e, SIGKILL); !st.ok()) {
      spdlog::warn("health on-failure {} id={} error=\"{}\"", action, id, std::string(st.message()));
    }
  }
}

}  // namespace berth::agent
