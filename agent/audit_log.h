// ROOT/audit.log: one JSON line per mutating call, exec and attach (time, identity, peer,
// method, target, status code), written with one write(2) before the reply goes out, and
// rotated by size (audit.log.1 .. audit.log.N). Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

struct AuditRecord {
  int64_t time_ns = 0;
  std::string identity;
  std::string role;
  std::string peer;
  std::string method;
  std::string target;  // container, image or network id or name; empty when none
  std::string code;    // gRPC status code name ("OK", "PERMISSION_DENIED", ...)
  std::string message;  // the status message when not OK (capped)
};

class AuditLog {
 public:
  AuditLog(std::string path, int64_t max_bytes, int files);
  absl::Status Open();
  // Never fails the call it records: a write error is logged once per burst.
  void Write(const AuditRecord& record);

 private:
  void RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const int64_t max_bytes_;
  const int files_;
  absl::Mutex mu_;
  UniqueFd fd_ ABSL_GUARDED_BY(mu_);
  int64_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::agent
