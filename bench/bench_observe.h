// The observability rows of berth-bench: Stats of many running containers in one call, a
// /metrics scrape, the agent's CPU while those containers run and a scraper comes every 10 s,
// event delivery through Events/Subscribe, and what a log rotation costs the container
// writing (the same output with and without rotating).
#pragma once

#include <string>

namespace berth::bench {

struct ObserveInputs {
  std::string socket;        // the bench's berthd
  pid_t agent_pid = 0;
  int containers = 200;      // running `sleep` containers (network none)
  int stats_calls = 30;
  int cpu_seconds = 30;      // how long the agent's CPU is watched, with a scrape every 10 s
  int metrics_port = 9338;   // the agent's default, on 127.0.0.1 in the bench's netns
};

// Prints its rows; removes every container it made.
void RunObserveBench(const ObserveInputs& in);

}  // namespace berth::bench
