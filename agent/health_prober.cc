#include "agent/health_prober.h"

namespace berth::agent {

HealthProber::HealthProber(absl::Duration interval, Probe probe, Report report)
    : interval_(interval), probe_(std::move(probe)), report_(std::move(report)), thread_([this] { Run(); }) {}

HealthProber::~HealthProber() {
  RequestStop();
  thread_.join();
}

void HealthProber::RequestStop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

bool HealthProber::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void HealthProber::Run() {
  const std::function<bool()> stopping = [this] { return Stopping(); };
  for (;;) {
    {
      // Docker's first probe comes one interval after the start, as every later one.
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [this] { return stop_; })) break;
    }
    std::optional<ProbeResult> result = probe_(stopping);
    if (Stopping()) break;
    if (result) report_(*result);
  }
  finished_ = true;
}

}  // namespace berth::agent
