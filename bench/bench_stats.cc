#include "bench/bench_stats.h"

#include <algorithm>
#include <cmath>

namespace berth::bench {

Summary Summarize(std::vector<double> samples_ms) {
  Summary s;
  s.n = samples_ms.size();
  if (s.n == 0) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.min = samples_ms.front();
  s.max = samples_ms.back();
  size_t mid = s.n / 2;
  s.median = s.n % 2 == 1 ? samples_ms[mid] : (samples_ms[mid - 1] + samples_ms[mid]) / 2;
  // Nearest rank: the smallest sample with at least 95 % of the samples at or below it.
  size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(s.n)));
  s.p95 = samples_ms[std::clamp<size_t>(rank, 1, s.n) - 1];
  return s;
}

}  // namespace berth::bench
