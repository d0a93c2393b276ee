// The Prometheus text exposition format (version 0.0.4): label escaping, and the container
// metrics under cAdvisor's names and labels (id, name, image; interface for network).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "berth/v1/containers.pb.h"

namespace berth::agent {

// `value` with \, " and newline escaped, for a label value.
std::string EscapeLabelValue(const std::string& value);

// Appends "# HELP", "# TYPE" once per metric and the samples of each container: CPU
// (container_cpu_usage_seconds_total, _user_, _system_, cfs periods and throttling), memory
// (container_memory_usage_bytes, _working_set_bytes, _rss, _cache, _failcnt,
// container_spec_memory_limit_bytes, container_oom_events_total), pids
// (container_processes), network (container_network_{receive,transmit}_{bytes,packets,errors}_total,
// _packets_dropped_total) and block I/O (container_fs_{reads,writes}_{bytes_,}total).
std::string RenderContainerMetrics(const std::vector<berth::v1::ContainerStats>& stats);

// berth_containers{state="running"} and so on, every state present (0 when none).
std::string RenderContainerStates(const std::map<std::string, int>& by_state);

}  // namespace berth::agent
