// Latency samples and their summary (median, p95) for berth-bench.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace berth::bench {

using Clock = std::chrono::steady_clock;

inline double MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

struct Summary {
  size_t n = 0;
  double median = 0;  // ms
  double p95 = 0;     // ms, nearest rank
  double min = 0;
  double max = 0;
};

// Empty input gives n = 0 and zeros.
Summary Summarize(std::vector<double> samples_ms);

}  // namespace berth::bench
