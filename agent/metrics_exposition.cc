#include "agent/metrics_exposition.h"

#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::agent {
namespace {

namespace v1 = berth::v1;

struct ContainerMetric {
  const char* name;
  const char* type;  // counter | gauge
  const char* help;
  // Nanoseconds for the *_seconds* metrics (printed as exact decimal seconds), else a count.
  std::function<uint64_t(const v1::ContainerStats&)> value;
};

// 1234567890 ns -> "1.234567890": exact, where a double would round.
std::string FormatNanosAsSeconds(uint64_t ns) {
  return absl::StrFormat("%d.%09d", ns / 1'000'000'000, ns % 1'000'000'000);
}

const std::vector<ContainerMetric>& ContainerMetrics() {
  static const auto* metrics = new std::vector<ContainerMetric>{
      {"container_cpu_usage_seconds_total", "counter", "Cumulative CPU time consumed, in seconds.",
       [](const v1::ContainerStats& s) { return s.cpu().usage_ns(); }},
      {"container_cpu_user_seconds_total", "counter", "Cumulative user CPU time consumed, in seconds.",
       [](const v1::ContainerStats& s) { return s.cpu().user_ns(); }},
      {"container_cpu_system_seconds_total", "counter", "Cumulative system CPU time consumed, in seconds.",
       [](const v1::ContainerStats& s) { return s.cpu().system_ns(); }},
      {"container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement period intervals.",
       [](const v1::ContainerStats& s) { return s.cpu().periods(); }},
      {"container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.",
       [](const v1::ContainerStats& s) { return s.cpu().throttled_periods(); }},
      {"container_cpu_cfs_throttled_seconds_total", "counter", "Total time duration the container has been throttled.",
       [](const v1::ContainerStats& s) { return s.cpu().throttled_ns(); }},
      {"container_memory_usage_bytes", "gauge", "Current memory usage in bytes, including all memory regardless of when it was accessed.",
       [](const v1::ContainerStats& s) { return s.memory().usage_bytes(); }},
      {"container_memory_working_set_bytes", "gauge", "Current working set in bytes.",
       [](const v1::ContainerStats& s) { return s.memory().working_set_bytes(); }},
      {"container_memory_rss", "gauge", "Size of RSS in bytes.",
       [](const v1::ContainerStats& s) { return s.memory().rss_bytes(); }},
      {"container_memory_cache", "gauge", "Number of bytes of page cache memory.",
       [](const v1::ContainerStats& s) { return s.memory().cache_bytes(); }},
      {"container_memory_failcnt", "counter", "Number of memory usage hits limits.",
       [](const v1::ContainerStats& s) { return s.memory().failcnt(); }},
      {"container_spec_memory_limit_bytes", "gauge", "Memory limit for the container (0: none).",
       [](const v1::ContainerStats& s) { return s.memory().limit_bytes(); }},
      {"container_oom_events_total", "counter", "Count of out of memory events observed for the container.",
       [](const v1::ContainerStats& s) { return s.memory().oom_events(); }},
      {"container_processes", "gauge", "Number of processes running inside the container.",
       [](const v1::ContainerStats& s) { return s.pids().current(); }},
      {"container_fs_reads_bytes_total", "counter", "Cumulative count of bytes read.",
       [](const v1::ContainerStats& s) { return s.block_io().read_bytes(); }},
      {"container_fs_writes_bytes_total", "counter", "Cumulative count of bytes written.",
       [](const v1::ContainerStats& s) { return s.block_io().write_bytes(); }},
      {"container_fs_reads_total", "counter", "Cumulative count of reads completed.",
       [](const v1::ContainerStats& s) { return s.block_io().read_ops(); }},
      {"container_fs_writes_total", "counter", "Cumulative count of writes completed.",
       [](const v1::ContainerStats& s) { return s.block_io().write_ops(); }},
  };
  return *metrics;
}

struct NetworkMetric {
  const char* name;
  const char* help;
  std::function<uint64_t(const v1::NetworkInterfaceStats&)> value;
};

const std::vector<NetworkMetric>& NetworkMetrics() {
  static const auto* metrics = new std::vector<NetworkMetric>{
      {"container_network_receive_bytes_total", "Cumulative count of bytes received.",
       [](const v1::NetworkInterfaceStats& n) { return n.rx_bytes(); }},
      {"container_network_receive_packets_total", "Cumulative count of packets received.",
       [](const v1::NetworkInterfaceStats& n) { return n.rx_packets(); }},
      {"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.",
       [](const v1::NetworkInterfaceStats& n) { return n.rx_errors(); }},
      {"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving.",
       [](const v1::NetworkInterfaceStats& n) { return n.rx_dropped(); }},
      {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.",
       [](const v1::NetworkInterfaceStats& n) { return n.tx_bytes(); }},
      {"container_network_transmit_packets_total", "Cumulative count of packets transmitted.",
       [](const v1::NetworkInterfaceStats& n) { return n.tx_packets(); }},
      {"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.",
       [](const v1::NetworkInterfaceStats& n) { return n.tx_errors(); }},
      {"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting.",
       [](const v1::NetworkInterfaceStats& n) { return n.tx_dropped(); }},
  };
  return *metrics;
}

std::string Labels(const v1::ContainerStats& s) {
  return absl::StrCat("id=\"", EscapeLabelValue(s.id()), "\",name=\"", EscapeLabelValue(s.name()), "\",image=\"",
                      EscapeLabelValue(s.image()), "\"");
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderContainerMetrics(const std::vector<v1::ContainerStats>& stats) {
  std::string out;
  for (const ContainerMetric& m : ContainerMetrics()) {
    absl::StrAppend(&out, "# HELP ", m.name, " ", m.help, "\n# TYPE ", m.name, " ", m.type, "\n");
    for (const v1::ContainerStats& s : stats) {
      if (!s.has_cpu()) continue;  // not running: no figures
      const uint64_t v = m.value(s);
      absl::StrAppend(&out, m.name, "{", Labels(s), "} ",
                      absl::StrContains(m.name, "_seconds") ? FormatNanosAsSeconds(v) : absl::StrCat(v), "\n");
    }
  }
  for (const NetworkMetric& m : NetworkMetrics()) {
    absl::StrAppend(&out, "# HELP ", m.name, " ", m.help, "\n# TYPE ", m.name, " counter\n");
    for (const v1::ContainerStats& s : stats) {
      for (const v1::NetworkInterfaceStats& n : s.networks()) {
        absl::StrAppend(&out, m.name, "{", Labels(s), ",interface=\"", EscapeLabelValue(n.name()), "\"} ", m.value(n),
                        "\n");
      }
    }
  }
  return out;
}

std::string RenderContainerStates(const std::map<std::string, int>& by_state) {
  std::string out =
      "# HELP berth_containers Containers the agent knows, by state.\n"
      "# TYPE berth_containers gauge\n";
  for (const auto& [state, n] : by_state) absl::StrAppend(&out, "berth_containers{state=\"", state, "\"} ", n, "\n");
  return out;
}

}  // namespace berth::agent
