#include "agent/agent_metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/metrics_exposition.h"

namespace berth::agent {

void AgentMetrics::ObserveRequest(const std::string& method, const std::string& code, absl::Duration latency) {
  const double seconds = absl::ToDoubleSeconds(latency);
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{method, code}];
  Latency& l = latency_[method];
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++l.buckets[i];
      break;
    }
  }
  ++l.count;
  l.sum += seconds;
}

void AgentMetrics::AddImagePullBytes(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  pull_bytes_ += bytes;
}

void AgentMetrics::AddAttachDroppedBytes(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  dropped_bytes_ += bytes;
}

std::string AgentMetrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out =
      "# HELP berth_grpc_requests_total gRPC calls the agent finished, by method and status code.\n"
      "# TYPE berth_grpc_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    absl::StrAppend(&out, "berth_grpc_requests_total{method=\"", EscapeLabelValue(key.first), "\",code=\"",
                    key.second, "\"} ", n, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP berth_grpc_request_duration_seconds How long gRPC calls took, by method (streams: "
                  "their whole life).\n"
                  "# TYPE berth_grpc_request_duration_seconds histogram\n");
  for (const auto& [method, l] : latency_) {
    const std::string m = EscapeLabelValue(method);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += l.buckets[i];
      absl::StrAppend(&out, "berth_grpc_request_duration_seconds_bucket{method=\"", m, "\",le=\"",
                      absl::StrFormat("%g", kLatencyBuckets[i]), "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "berth_grpc_request_duration_seconds_bucket{method=\"", m, "\",le=\"+Inf\"} ", l.count,
                    "\n", "berth_grpc_request_duration_seconds_sum{method=\"", m, "\"} ",
                    absl::StrFormat("%.9g", l.sum), "\n", "berth_grpc_request_duration_seconds_count{method=\"", m,
                    "\"} ", l.count, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP berth_image_pull_bytes_total Bytes of image content downloaded from registries.\n"
                  "# TYPE berth_image_pull_bytes_total counter\n"
                  "berth_image_pull_bytes_total ",
                  pull_bytes_, "\n",
                  "# HELP berth_attach_dropped_bytes_total Container output an attached client was too slow to "
                  "take (the log still has it).\n"
                  "# TYPE berth_attach_dropped_bytes_total counter\n"
                  "berth_attach_dropped_bytes_total ",
                  dropped_bytes_, "\n");
  return out;
}

}  // namespace berth::agent
