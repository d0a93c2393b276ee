// One container's health check loop: a thread that waits an interval, runs a probe, hands its
// result on, and repeats until told to stop. What a probe is and what a result means belong
// to the caller (ContainerManager), so this can be tested with plain functions.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/time/time.h"
#include "agent/health_check.h"

namespace berth::agent {

class HealthProber {
 public:
  // `probe` gets a function telling whether the prober is stopping (a long probe should give
  // up then); nullopt: no result this round (the container is not running any more).
  using Probe = std::function<std::optional<ProbeResult>(const std::function<bool()>& stopping)>;
  using Report = std::function<void(const ProbeResult&)>;

  HealthProber(absl::Duration interval, Probe probe, Report report);
  ~HealthProber();  // stops and joins
  HealthProber(const HealthProber&) = delete;
  HealthProber& operator=(const HealthProber&) = delete;

  // Asks the loop to end without waiting for it (safe under the caller's locks).
  void RequestStop();
  // The loop has ended: joining it does not wait.
  bool finished() const { return finished_.load(); }

 private:
  void Run();
  bool Stopping();

  const absl::Duration interval_;
  Probe probe_;
  Report report_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace berth::agent
