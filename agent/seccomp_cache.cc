#include "agent/seccomp_cache.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_join.h"
#include "runtime/seccomp/compiled_program.h"
#include "runtime/seccomp/seccomp_filter.h"

namespace berth::agent {

absl::StatusOr<std::string> SeccompCache::Encoded(const spec::Seccomp& seccomp, std::string_view config_json) {
  {
    absl::MutexLock lock(&mu_);
    if (const seccomp::Program* program = FindLocked(seccomp)) return seccomp::EncodeProgram(*program, config_json);
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
  if (FindLocked(seccomp) != nullptr) return bytes;  // a create beside this one compiled it first
  if (compiled_.size() >= kMaxEntries) compiled_.erase(compiled_.begin());
  compiled_.emplace_back(seccomp, *std::move(program));
  return bytes;
}

const seccomp::Program* SeccompCache::FindLocked(const spec::Seccomp& seccomp) {
  for (const auto& [profile, program] : compiled_) {
    if (profile == seccomp) return &program;
  }
  return nullptr;
}

}  // namespace berth::agent
