#include "agent/seccomp_cache.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_join.h"
#include "runtime/seccomp/compiled_program.h"
#include "runtime/seccomp/seccomp_filter.h"

namespace berth::agent {

absl::StatusOr<std::string> SeccompCache::Encoded(const spec::Seccomp& seccomp) {
  const std::string source = spec::SerializeSeccomp(seccomp);
  {
    absl::MutexLock lock(&mu_);
    if (auto it = encoded_.find(source); it != encoded_.end()) return it->second;
  }
  // Compiled without the lock: a slow first compile must not hold up other creates.
  absl::StatusOr<seccomp::Program> program = seccomp::Compile(seccomp);
  if (!program.ok()) return program.status();
  if (!program->unknown_names.empty()) {
    spdlog::info("seccomp: syscalls unknown to libseccomp are skipped (they fail with ENOSYS): {}",
                 absl::StrJoin(program->unknown_names, ","));
  }
  std::string bytes = seccomp::EncodeProgram(*program, source);
  absl::MutexLock lock(&mu_);
  if (encoded_.size() >= kMaxEntries) encoded_.clear();
  encoded_.emplace(source, bytes);
  return bytes;
}

}  // namespace berth::agent
