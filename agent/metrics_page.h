// What GET /metrics answers: the agent's own metrics, its containers by state, and every
// running container's figures (read at scrape time, as cAdvisor does).
#pragma once

#include <string>

#include "agent/agent_metrics.h"
#include "agent/container_manager.h"

namespace berth::agent {

std::string RenderMetricsPage(const AgentMetrics& metrics, ContainerManager& containers);

}  // namespace berth::agent
