// Named volumes of the "local" driver: <dir>/<name>/_data holds the files, <dir>/<name>/volume.json
// the record (written last, so a directory without one is a crash's leftover). Which
// containers mount a volume is kept in memory only: the container records say it, and the
// agent registers them again at recovery. Thread-safe; never calls out while locked.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/label_selector.h"
#include "berth/v1/volumes.pb.h"

namespace berth::agent {

class VolumeStore {
 public:
  explicit VolumeStore(std::string dir) : dir_(std::move(dir)) {}

  // Reads every volume; removes what a crash left half-made or half-removed.
  absl::Status Load();

  // A new volume, or the existing one of that name as it is (Docker's rule).
  absl::StatusOr<v1::Volume> Create(const v1::CreateVolumeRequest& request);
  // used_by holds container ids (the caller names them); no size.
  absl::StatusOr<v1::Volume> Get(const std::string& name) const;
  std::vector<v1::Volume> List() const;

  struct Acquired {
    std::string name;
    std::string data_path;
    bool created = false;  // made by this call (empty name: anonymous; else a missing named one)
  };
  // `container_id` mounts the volume `name`, which is made when missing (an empty name: a new
  // anonymous volume).
  absl::StatusOr<Acquired> Acquire(const std::string& name, const std::string& container_id);
  // The container mounts nothing any more. With `remove_anonymous` its anonymous volumes that
  // nothing else mounts go too; `also_remove` names other volumes to remove if now unused
  // (those a failed create made).
  void Release(const std::string& container_id, bool remove_anonymous,
               const std::vector<std::string>& also_remove = {});

  // NOT_FOUND (unless `missing_ok`), or FAILED_PRECONDITION while mounted (the message lists
  // the containers' short ids; Users() gives them all).
  absl::Status Remove(const std::string& name, bool missing_ok);
  std::set<std::string> Users(const std::string& name) const;

  struct Pruned {
    std::vector<std::string> removed;
    int64_t reclaimed_bytes = 0;
  };
  // Unused volumes matching `match`: anonymous ones, or with `all` named ones too.
  Pruned Prune(bool all, const LabelMatcher& match);

  std::string DataPath(const std::string& name) const { return dir_ + "/" + name + "/_data"; }

 private:
  struct Stored {
    v1::Volume volume;  // without used_by and size
    std::set<std::string> users;
  };
  absl::StatusOr<v1::Volume> CreateLocked(const std::string& name, const v1::CreateVolumeRequest& request,
                                          bool anonymous) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the volume out of sight (a rename, so a crash cannot leave half of it listed) and
  // forgets it; the caller deletes the returned directory outside the lock.
  std::string UnlinkLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static v1::Volume WithUsers(const Stored& stored);

  const std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, Stored> volumes_ ABSL_GUARDED_BY(mu_);
  uint64_t trash_serial_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::agent
