// Compiled seccomp programs, one per distinct profile: compiling Berth's default profile
// (three architectures) costs milliseconds, and almost every container uses the same one.
// Thread-safe; bounded (a node with many custom profiles recompiles now and then).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runtime/seccomp/seccomp_filter.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

class SeccompCache {
 public:
  // seccomp::EncodeProgram of the compiled `seccomp`, for the bundle whose config.json is
  // `config_json`. Errors are the compiler's (INVALID_ARGUMENT naming linux.seccomp fields).
  absl::StatusOr<std::string> Encoded(const spec::Seccomp& seccomp, std::string_view config_json);

 private:
  // The program compiled from a profile equal to `seccomp`, or null.
  const seccomp::Program* FindLocked(const spec::Seccomp& seccomp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  static constexpr size_t kMaxEntries = 32;
  absl::Mutex mu_;
  // Looked up by the profile's value: comparing it costs microseconds, where serializing it
  // for a key cost 0.1-0.2 ms of every create. Oldest first.
  std::vector<std::pair<spec::Seccomp, seccomp::Program>> compiled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::agent
