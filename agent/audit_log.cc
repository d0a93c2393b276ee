#include "agent/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth::agent {

AuditLog::AuditLog(std::string path, int64_t max_bytes, int files)
    : path_(std::move(path)), max_bytes_(max_bytes), files_(files) {}

absl::Status AuditLog::Open() {
  absl::MutexLock lock(&mu_);
  fd_.Reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd_) return ErrnoToStatus(absl::StrCat("open ", path_));
  struct stat st;
  size_ = ::fstat(fd_.get(), &st) == 0 ? st.st_size : 0;
  return absl::OkStatus();
}

void AuditLog::RotateLocked() {
  // audit.log.(N-1) -> .N, ..., audit.log -> .1; the oldest falls off the end.
  for (int i = files_ - 1; i >= 1; --i) {
    ::rename(absl::StrCat(path_, ".", i).c_str(), absl::StrCat(path_, ".", i + 1).c_str());
  }
  ::rename(path_.c_str(), absl::StrCat(path_, ".1").c_str());
  fd_.Reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  size_ = 0;
}

void AuditLog::Write(const AuditRecord& r) {
  nlohmann::json j;
  j["time"] = google::protobuf::util::TimeUtil::ToString(
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(r.time_ns));
  j["identity"] = r.identity;
  j["role"] = r.role;
  j["peer"] = r.peer;
  j["method"] = r.method;
  if (!r.target.empty()) j["target"] = r.target.substr(0, 200);
  j["code"] = r.code;
  if (!r.message.empty()) j["message"] = r.message.substr(0, 200);
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  absl::MutexLock lock(&mu_);
  if (size_ + static_cast<int64_t>(line.size()) > max_bytes_ && size_ > 0) RotateLocked();
  if (!fd_) return;
  ssize_t n;
  do {
    n = ::write(fd_.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    spdlog::error("audit log {}: {}", path_, std::strerror(errno));
    return;
  }
  size_ += n;
}

}  // namespace berth::agent
