// The cost of Berth's hardened defaults, for berth-bench: run-to-exit and exec with the
// default seccomp profile and no_new_privs, with --userns=auto, and with neither, beside crun
// with and without the same filter; compiling and loading the filter on its own; and the
// ways to keep the monitor's binary out of a container's reach (a sealed memfd copy or a
// read-only bind in a private mount namespace) against a plain exec.
#pragma once

#include <memory>
#include <string>

#include "bench/bench_berth.h"
#include "bench/bench_oci_runtime.h"
#include "bench/bench_stats.h"

namespace berth::bench {

struct HardeningInputs {
  std::shared_ptr<BerthClient> client;
  std::shared_ptr<OciRuntime> crun;
  std::string crun_plain_bundle;    // /bin/true, no filter
  std::string crun_seccomp_bundle;  // /bin/true, Berth's default filter + no_new_privs
  std::string crun_sleeper;         // a running crun container (exec target)
  std::string shim_path;            // berth-shim, for the launch rows
  std::string scratch;              // a directory of the bench's own
  int runs = 50;
  int warmup = 3;
  std::string id_prefix;
};

struct HardeningResult {
  Summary run_hardened, run_userns, run_neither, crun_plain, crun_seccomp;
  // Create and Start steps of the three berth rows (medians, ms).
  double create_hardened = 0, create_userns = 0, create_neither = 0;
  double start_hardened = 0, start_userns = 0, start_neither = 0;
  Summary exec_hardened, exec_neither, crun_exec;
  Summary compile_ms, load_ms;  // the default profile, resolved for the default capabilities
  int filter_instructions = 0;
  Summary launch_path, launch_memfd, launch_robind;
};

// The resolved default profile as linux.seccomp JSON (for the crun bundle).
std::string DefaultSeccompJson();

HardeningResult MeasureHardening(const HardeningInputs& in);
void PrintHardening(const HardeningResult& r, int runs);

}  // namespace berth::bench
