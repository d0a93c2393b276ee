// The agent's metrics in the exposition format: cumulative histogram buckets, escaped label
// values, exact seconds, and no figures for containers that are not running.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "agent/agent_metrics.h"
#include "agent/metrics_exposition.h"

namespace berth::agent {
namespace {

TEST(AgentMetrics, CountsByMethodAndCodeWithCumulativeBuckets) {
  AgentMetrics m;
  m.ObserveRequest("/berth.v1.Containers/Create", "OK", absl::Milliseconds(3));
  m.ObserveRequest("/berth.v1.Containers/Create", "OK", absl::Milliseconds(30));
  m.ObserveRequest("/berth.v1.Containers/Create", "NOT_FOUND", absl::Seconds(20));
  m.AddImagePullBytes(1000);
  m.AddImagePullBytes(24);
  m.AddAttachDroppedBytes(7);
  const std::string text = m.Render();
  auto has = [&](const std::string& line) { return absl::StrContains(text, line + "\n"); };
  EXPECT_TRUE(has("berth_grpc_requests_total{method=\"/berth.v1.Containers/Create\",code=\"OK\"} 2")) << text;
  EXPECT_TRUE(has("berth_grpc_requests_total{method=\"/berth.v1.Containers/Create\",code=\"NOT_FOUND\"} 1"));
  const std::string bucket = "berth_grpc_request_duration_seconds_bucket{method=\"/berth.v1.Containers/Create\",le=";
  EXPECT_TRUE(has(bucket + "\"0.0025\"} 0"));
  EXPECT_TRUE(has(bucket + "\"0.005\"} 1"));
  EXPECT_TRUE(has(bucket + "\"0.05\"} 2"));
  EXPECT_TRUE(has(bucket + "\"10\"} 2"));
  EXPECT_TRUE(has(bucket + "\"+Inf\"} 3")) << "20 s is past the last bound";
  EXPECT_TRUE(has("berth_grpc_request_duration_seconds_count{method=\"/berth.v1.Containers/Create\"} 3"));
  EXPECT_TRUE(has("berth_image_pull_bytes_total 1024"));
  EXPECT_TRUE(has("berth_attach_dropped_bytes_total 7"));
}

TEST(MetricsExposition, ContainerLabelsSecondsAndStates) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  v1::ContainerStats running;
  running.set_id("abc");
  running.set_name("we\"b");
  running.set_image("busybox");
  running.mutable_cpu()->set_usage_ns(1'234'567'890);
  running.mutable_memory()->set_working_set_bytes(4096);
  auto* n = running.add_networks();
  n->set_name("eth0");
  n->set_rx_bytes(99);
  v1::ContainerStats created;  // no figures
  created.set_id("def");
  const std::string text = RenderContainerMetrics({running, created});
  EXPECT_TRUE(absl::StrContains(
      text, "container_cpu_usage_seconds_total{id=\"abc\",name=\"we\\\"b\",image=\"busybox\"} 1.234567890\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "container_memory_working_set_bytes{id=\"abc\",name=\"we\\\"b\",image=\"busybox\"} 4096\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "container_network_receive_bytes_total{id=\"abc\",name=\"we\\\"b\",image=\"busybox\",interface=\"eth0\"} 99\n"));
  EXPECT_FALSE(absl::StrContains(text, "id=\"def\""));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE container_cpu_usage_seconds_total counter\n"));
  const std::string states = RenderContainerStates({{"running", 2}, {"exited", 0}});
  EXPECT_TRUE(absl::StrContains(states, "berth_containers{state=\"running\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(states, "berth_containers{state=\"exited\"} 0\n"));
}

}  // namespace
}  // namespace berth::agent
