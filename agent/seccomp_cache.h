// Compiled seccomp programs, one per distinct profile: compiling Berth's default profile
// (three architectures) costs milliseconds, and almost every container uses the same one.
// Thread-safe; bounded (a node with many custom profiles recompiles now and then).
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

class SeccompCache {
 public:
  // seccomp::EncodeProgram of the compiled `seccomp`, ready for the bundle. Errors are the
  // compiler's (INVALID_ARGUMENT naming linux.seccomp fields).
  absl::StatusOr<std::string> Encoded(const spec::Seccomp& seccomp);

 private:
  static constexpr size_t kMaxEntries = 32;
  absl::Mutex mu_;
  std::map<std::string, std::string> encoded_ ABSL_GUARDED_BY(mu_);  // source -> bytes
};

}  // namespace berth::agent
