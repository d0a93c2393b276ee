// The agent's own Prometheus metrics: gRPC requests by method and code with latency
// histograms, image pull bytes, and attach output dropped for slow clients. Thread-safe;
// rendered in the text exposition format together with the container metrics
// (metrics_exposition.h).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace berth::agent {

class AgentMetrics {
 public:
  // Upper bounds of the latency buckets, in seconds (the last, +Inf, is implied).
  static constexpr std::array<double, 12> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                             0.1,   0.25,   0.5,   1,    2.5,   10};

  // One finished call: `method` as gRPC names it ("/berth.v1.Containers/Create"), `code`
  // as the status name ("OK", "NOT_FOUND").
  void ObserveRequest(const std::string& method, const std::string& code, absl::Duration latency);
  void AddImagePullBytes(int64_t bytes);
  void AddAttachDroppedBytes(int64_t bytes);

  // berth_grpc_requests_total, berth_grpc_request_duration_seconds, berth_image_pull_bytes_total,
  // berth_attach_dropped_bytes_total, in the exposition format.
  std::string Render() const;

 private:
  struct Latency {
    std::array<uint64_t, kLatencyBuckets.size()> buckets{};  // cumulative when rendered
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Latency> latency_ ABSL_GUARDED_BY(mu_);
  int64_t pull_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::agent
