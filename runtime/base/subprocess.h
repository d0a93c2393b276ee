// Running a helper program to its end with bytes on its stdin and its output captured
// (CNI plugins, for one). posix_spawn: nothing runs in the child before exec, so a
// multithreaded caller (the agent) is safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth {

struct SubprocessResult {
  int exit_code = -1;     // -1 when killed by a signal
  int term_signal = 0;
  std::string stdout_data;
  std::string stderr_data;  // up to 64 KiB
};

// Runs `argv` (argv[0] an absolute path) with exactly `env`, feeding `input` then closing its
// stdin; it is killed (SIGKILL) when `timeout` passes: DEADLINE_EXCEEDED. Output beyond
// `max_output` bytes: RESOURCE_EXHAUSTED (killed too).
absl::StatusOr<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                               const std::string& input, absl::Duration timeout,
                                               size_t max_output = 16 << 20);

}  // namespace berth
