// Where the runtime keeps its containers: ROOT/<id>/ holds state.json, the start FIFO
// (exec.fifo, until `start`), init's exec error, and a copy of config.json for the hooks
// that run after the bundle may be gone. A container's directory is locked (flock) by each
// verb that changes it, so two calls on one container never interleave.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/lifecycle/container_record.h"

namespace berth::lifecycle {

// Refuses ids that are empty, longer than 1024 bytes, or hold anything but letters, digits
// and "_ + - ." (runc's rule); "." and ".." are refused too.
absl::Status ValidateContainerId(const std::string& id);

// A held lock on a container's directory. Unlocked explicitly when dropped: a container's
// init, forked while the lock was held, shares the locked open file until its execve.
class StateLock {
 public:
  StateLock() = default;
  explicit StateLock(UniqueFd fd) : fd_(std::move(fd)) {}
  StateLock(StateLock&&) = default;
  StateLock& operator=(StateLock&&) = default;
  ~StateLock();

 private:
  UniqueFd fd_;
};

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string Dir(const std::string& id) const { return root_ + "/" + id; }
  std::string FifoPath(const std::string& id) const { return Dir(id) + "/exec.fifo"; }
  std::string ExecErrorPath(const std::string& id) const { return Dir(id) + "/exec-error"; }
  std::string ConfigPath(const std::string& id) const { return Dir(id) + "/config.json"; }

  // Makes ROOT/<id> (ALREADY_EXISTS when it is there) and returns its lock, held.
  absl::StatusOr<StateLock> CreateDir(const std::string& id) const;
  // Locks ROOT/<id>; NOT_FOUND naming the id when there is no such container.
  absl::StatusOr<StateLock> Lock(const std::string& id) const;

  absl::StatusOr<ContainerRecord> Load(const std::string& id) const;
  absl::Status Save(const ContainerRecord& record) const;
  absl::Status Remove(const std::string& id) const;
  // Ids with a state.json, sorted.
  std::vector<std::string> Ids() const;

 private:
  std::string root_;
};

}  // namespace berth::lifecycle
