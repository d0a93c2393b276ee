#include "bench/bench_runtimes.h"

#include <cstdio>

namespace berth::bench {

std::vector<RuntimeRow> MeasureRuntimes(const RuntimesInputs& in) {
  std::vector<std::vector<double>> run(in.arms.size()), exec(in.arms.size());
  int n = 0;
  std::vector<std::function<void(bool)>> run_steps, exec_steps;
  for (size_t a = 0; a < in.arms.size(); ++a) {
    run_steps.push_back([&, a](bool keep) {
      auto t0 = Clock::now();
      in.arms[a].cli->Run(in.run_bundle, in.id_prefix + "-rt-" + std::to_string(n++));
      if (keep) run[a].push_back(MillisBetween(t0, Clock::now()));
    });
  }
  Interleaved(in.warmup + in.runs, in.warmup, run_steps);

  // One sleeper per runtime, each exec'd into in turn.
  for (size_t a = 0; a < in.arms.size(); ++a) {
    const std::string sleeper = in.id_prefix + "-rt-sleep-" + in.arms[a].name;
    in.arms[a].cli->RunDetached(in.arms[a].sleep_bundle, sleeper);
    exec_steps.push_back([&, a, sleeper](bool keep) {
      auto t0 = Clock::now();
      in.arms[a].cli->Exec(sleeper, {"/bin/true"});
      if (keep) exec[a].push_back(MillisBetween(t0, Clock::now()));
    });
  }
  Interleaved(in.warmup + in.runs, in.warmup, exec_steps);
  for (const RuntimeArm& arm : in.arms) arm.cli->DeleteAll();

  std::vector<RuntimeRow> rows;
  for (size_t a = 0; a < in.arms.size(); ++a) {
    rows.push_back({in.arms[a].name, Summarize(run[a]), Summarize(exec[a])});
  }
  return rows;
}

void PrintRuntimes(const std::vector<RuntimeRow>& rows, int runs) {
  const RuntimeRow* crun = nullptr;
  for (const RuntimeRow& r : rows) {
    if (r.name == "crun") crun = &r;
  }
  std::printf("\nOCI runtimes as processes (%d runs each, interleaved; ms median / p95; ratio to crun)\n", runs);
  std::printf("  %-16s %9s %8s %7s   %9s %8s %7s\n", "runtime", "run true", "p95", "ratio", "exec true", "p95", "ratio");
  for (const RuntimeRow& r : rows) {
    double run_ratio = crun && crun->run.median > 0 ? r.run.median / crun->run.median : 0;
    double exec_ratio = crun && crun->exec.median > 0 ? r.exec.median / crun->exec.median : 0;
    std::printf("  %-16s %9.1f %8.1f %6.2fx   %9.1f %8.1f %6.2fx\n", r.name.c_str(), r.run.median, r.run.p95,
                run_ratio, r.exec.median, r.exec.p95, exec_ratio);
  }
  if (!rows.empty() && crun != nullptr) {
    bool met = rows[0].run.median <= crun->run.median && rows[0].exec.median <= crun->exec.median;
    std::printf("  target: %s at or under crun in both: %s\n", rows[0].name.c_str(), met ? "MET" : "MISSED");
  }
}

}  // namespace berth::bench
