#include "agent/metrics_page.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/metrics_exposition.h"

namespace berth::agent {

std::string RenderMetricsPage(const AgentMetrics& metrics, ContainerManager& containers) {
  std::string page = metrics.Render();
  std::map<std::string, int> by_state = {{"created", 0}, {"running", 0}, {"paused", 0}, {"exited", 0}};
  if (auto all = containers.List("", {}, v1::LIST_VIEW_SUMMARY); all.ok()) {
    for (const v1::Container& c : *all) {
      std::string state = absl::AsciiStrToLower(v1::ContainerState_Name(c.state()));
      ++by_state[state];
    }
  }
  page += RenderContainerStates(by_state);
  if (auto stats = containers.Stats({}); stats.ok()) page += RenderContainerMetrics(*stats);
  return page;
}

}  // namespace berth::agent
