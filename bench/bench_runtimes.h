// berth-bench's OCI runtime rows: berth-runtime beside crun and runc as whole processes, the
// way Podman and containerd call them: `run` of /bin/true (create, start, wait, delete) and
// `exec` of /bin/true into a running container, interleaved, on the same bundles.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/bench_oci_runtime.h"
#include "bench/bench_stats.h"

namespace berth::bench {

struct RuntimeArm {
  std::string name;  // "berth-runtime", "crun", "runc"
  std::shared_ptr<OciRuntime> cli;
  std::string sleep_bundle;  // /bin/sleep 3600 with a cgroup of this arm's own: the exec target
};

struct RuntimesInputs {
  std::vector<RuntimeArm> arms;  // the first is Berth's; ratios are against "crun"
  std::string run_bundle;        // /bin/true
  std::string id_prefix;
  int runs = 0;
  int warmup = 0;
};

struct RuntimeRow {
  std::string name;
  Summary run;
  Summary exec;
};

std::vector<RuntimeRow> MeasureRuntimes(const RuntimesInputs& in);
void PrintRuntimes(const std::vector<RuntimeRow>& rows, int runs);

}  // namespace berth::bench
