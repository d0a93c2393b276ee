// runtime/seccomp: compiling an OCI linux.seccomp object into a classic-BPF seccomp program
// (with libseccomp) and loading it. Compile runs in the parent, where allocating and locking
// are fine; Load runs in the container's child between clone and execve, so it neither
// allocates nor takes a lock on success, and LoadOrErrno never does.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/spec/spec.h"

namespace berth::seccomp {

// A compiled filter, ready to load.
struct Program {
  std::vector<struct sock_filter> instructions;
  unsigned int flags = 0;  // SECCOMP_FILTER_FLAG_LOG / _SPEC_ALLOW, passed to seccomp(2)
  // Syscall names libseccomp could not resolve (newer than it, or misspelt): skipped, as runc
  // does. Callers log them. Sorted, without duplicates.
  std::vector<std::string> unknown_names;
};

// Builds the filter for `seccomp` (validated first with spec::ValidateSeccomp; errors are
// INVALID_ARGUMENT naming "linux.seccomp..." fields). Rules whose action equals the default
// action are skipped. When the default action is an errno, syscalls numbered above every
// native syscall the rules name fail with ENOSYS instead, so that libc's fall-backs work on
// kernels newer than the profile (see the comment in seccomp_filter.cc). Never loads anything.
absl::StatusOr<Program> Compile(const spec::Seccomp& seccomp);

// Installs `program` on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER): needs
// no_new_privs set or CAP_SYS_ADMIN. Returns 0 or the errno. No allocation, no lock.
int LoadOrErrno(const Program& program) noexcept;

// LoadOrErrno as a status (berth::ErrnoStatus: EPERM -> PERMISSION_DENIED, ...). Allocates
// only when it fails.
absl::Status Load(const Program& program);

}  // namespace berth::seccomp
