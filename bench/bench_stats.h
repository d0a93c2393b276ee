// Latency samples and their summary (median, p95) for berth-bench.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
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
// Nearest-rank percentile (p in 0..100); 0 for no samples.
double Percentile(std::vector<double> samples_ms, double p);

// Runs `total` rounds of `steps`, each round starting one step later than the one before, so
// no step always runs on another's leftovers. `keep` is false in the first `warmup` rounds.
void Interleaved(int total, int warmup, const std::vector<std::function<void(bool keep)>>& steps);

// Runs `a` then `b` in even rounds, `b` then `a` in odd ones: two arms measured side by side,
// neither always on the other's leftovers.
template <typename A, typename B>
void InAlternatingOrder(int round, A&& a, B&& b) {
  if (round % 2 == 0) {
    a();
    b();
  } else {
    b();
    a();
  }
}

// "  NAME   median   p95   +D ms vs BASE_NAME" (D: median minus base's median).
void PrintDeltaRow(const char* name, const Summary& s, const Summary& base, const char* base_name);

}  // namespace berth::bench
