#include "bench/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/bench_proc.h"

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

double Percentile(std::vector<double> samples_ms, double p) {
  if (samples_ms.empty()) return 0;
  std::sort(samples_ms.begin(), samples_ms.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples_ms.size())));
  return samples_ms[std::clamp<size_t>(rank, 1, samples_ms.size()) - 1];
}

void Interleaved(int total, int warmup, const std::vector<std::function<void(bool keep)>>& steps) {
  for (int i = 0; i < total; ++i) {
    ThrowIfInterrupted();
    for (size_t k = 0; k < steps.size(); ++k) steps[(i + k) % steps.size()](i >= warmup);
  }
}

void PrintDeltaRow(const char* name, const Summary& s, const Summary& base, const char* base_name) {
  std::printf("  %-48s %8.2f %8.2f   %+7.2f ms vs %s\n", name, s.median, s.p95, s.median - base.median, base_name);
}

}  // namespace berth::bench
