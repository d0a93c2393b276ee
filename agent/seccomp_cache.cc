#include "agent/seccomp_cache.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_join.h"
#include "runtime/seccomp/compiled_program.h"
#include "runtime/seccomp/seccomp_filter.h"

namespace berth::agent {

absl::StatusOr<std::string> SeccompCache::Encoded(const spec::Seccomp& seccomp, std::string_view config_json) {
  const std::string source = spec::SerializeSeccomp(seccomp);
  {
    absl::MutexLock lock(&mu_);
    if (auto it = compiled_.find(source); it != compiled_.end()) return seccomp::EncodeProgram(it->second, config_json);
  }
  // Compiled without the lock: a slow first compile must not hold up other creates.
  absl::StatusOr<seccomp::Program> program = seccomp::Compile(seccomp);
  if (!program.ok()) return program.status();
  if (!program->unknown_names.empty()) {
    spdlog::info("seccomp: syscalls unknown to libseccomp are skipped (they fail with ENOSYS): {}",
                 absl::StrJoin(program->unknown_names, ","));
  }
  std::string bytes = seccomp::EncodeProgram(*program, config_json);
  absl::MutexLock lock(&mu_);
  if (compiled_.size() >= kMaxEntries) compiled_.clear();
  compiled_.emplace(source, *std::move(program));
  return bytes;
}

}  // namespace berth::agent
