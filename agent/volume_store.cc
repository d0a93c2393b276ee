#include "agent/volume_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/ids.h"
#include "agent/message_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent {
namespace {

constexpr char kRecordFile[] = "volume.json";
constexpr char kTrashPrefix[] = ".removing-";

absl::Status ValidateVolumeName(const std::string& name) {
  if (ValidateName(name).ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid volume name ", Quoted(name), ": names match [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}"));
}

std::string ShortIds(const std::set<std::string>& ids) {
  std::vector<std::string> shorts;
  for (const std::string& id : ids) shorts.push_back(id.substr(0, 12));
  return absl::StrJoin(shorts, ", ");
}

}  // namespace

absl::Status VolumeStore::Load() {
  if (absl::Status st = MakeDirs(dir_, 0701); !st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& entry : ListDirectory(dir_)) {
    const std::string path = absl::StrCat(dir_, "/", entry);
    if (absl::StartsWith(entry, kTrashPrefix)) {
      (void)RemoveTree(path);
      continue;
    }
    v1::Volume volume;
    if (absl::Status loaded = LoadMessage(absl::StrCat(path, "/", kRecordFile), &volume); !loaded.ok()) {
      if (absl::IsNotFound(loaded)) {
        spdlog::info("volumes: removing {} (a create that did not finish)", path);
        (void)RemoveTree(path);
      } else {
        spdlog::warn("volumes: skipping {}: {}", path, std::string(loaded.message()));
      }
      continue;
    }
    if (volume.name() != entry) {
      spdlog::warn("volumes: skipping {}: its record names {}", path, Quoted(volume.name()));
      continue;
    }
    if (absl::Status st = MakeDirs(DataPath(entry), 0755); !st.ok()) return st;
    volumes_[entry].volume = std::move(volume);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Volume> VolumeStore::CreateLocked(const std::string& name, const v1::CreateVolumeRequest& request,
                                                     bool anonymous) {
  const std::string path = absl::StrCat(dir_, "/", name);
  v1::Volume volume;
  volume.set_name(name);
  volume.set_driver("local");
  volume.set_mountpoint(DataPath(name));
  *volume.mutable_labels() = request.labels();
  *volume.mutable_created_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::GetCurrentTimeNanos());
  volume.set_anonymous(anonymous);
  // The volume dir keeps node users out; the data dir is what containers see as the mount.
  absl::Status made = MakeDirs(dir_, 0701);
  if (made.ok() && ::mkdir(path.c_str(), 0701) != 0) made = ErrnoToStatus(absl::StrCat("mkdir ", path));
  if (made.ok() && ::mkdir(volume.mountpoint().c_str(), 0755) != 0) {
    made = ErrnoToStatus(absl::StrCat("mkdir ", volume.mountpoint()));
  }
  if (made.ok()) made = SaveMessage(absl::StrCat(path, "/", kRecordFile), volume, Durability::kDurable);
  if (!made.ok()) {
    (void)RemoveTree(path);
    return Annotate(made, absl::StrCat("create volume ", name));
  }
  volumes_[name].volume = volume;
  spdlog::info("volume created name={}{}", name, anonymous ? " (anonymous)" : "");
  return volume;
}

absl::StatusOr<v1::Volume> VolumeStore::Create(const v1::CreateVolumeRequest& request) {
  if (!request.driver().empty() && request.driver() != "local") {
    return absl::InvalidArgumentError(
        absl::StrCat("volume driver ", Quoted(request.driver()), " is not available: this node has only \"local\""));
  }
  for (const auto& [k, v] : request.labels()) {
    if (k.empty() || k.size() > 253) {
      return absl::InvalidArgumentError(absl::StrCat("label key ", Quoted(k), " must be 1 to 253 characters"));
    }
  }
  std::string name = request.name();
  if (!name.empty()) {
    if (absl::Status st = ValidateVolumeName(name); !st.ok()) return st;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (name.empty()) {
    name = NewContainerId();
  } else if (auto it = volumes_.find(name); it != volumes_.end()) {
    return WithUsers(it->second);
  }
  return CreateLocked(name, request, false);
}

v1::Volume VolumeStore::WithUsers(const Stored& stored) {
  v1::Volume v = stored.volume;
  for (const std::string& id : stored.users) v.add_used_by(id);
  return v;
}

absl::StatusOr<v1::Volume> VolumeStore::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) {
    return absl::NotFoundError(absl::StrCat("no such volume: ", Quoted(name), " (berth volume ls lists them)"));
  }
  return WithUsers(it->second);
}

std::vector<v1::Volume> VolumeStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Volume> out;
  for (const auto& [name, stored] : volumes_) out.push_back(WithUsers(stored));
  return out;
}

absl::StatusOr<VolumeStore::Acquired> VolumeStore::Acquire(const std::string& name, const std::string& container_id) {
  if (!name.empty()) {
    if (absl::Status st = ValidateVolumeName(name); !st.ok()) return st;
  }
  std::lock_guard<std::mutex> lock(mu_);
  Acquired acquired;
  acquired.name = name;
  if (name.empty() || !volumes_.count(name)) {
    const bool anonymous = name.empty();
    if (anonymous) acquired.name = NewContainerId();
    auto made = CreateLocked(acquired.name, v1::CreateVolumeRequest(), anonymous);
    if (!made.ok()) return made.status();
    acquired.created = true;
  }
  volumes_[acquired.name].users.insert(container_id);
  acquired.data_path = DataPath(acquired.name);
  return acquired;
}

std::string VolumeStore::UnlinkLocked(const std::string& name) {
  const std::string path = absl::StrCat(dir_, "/", name);
  const std::string trash = absl::StrCat(dir_, "/", kTrashPrefix, name, ".", ++trash_serial_);
  volumes_.erase(name);
  if (::rename(path.c_str(), trash.c_str()) != 0) {
    spdlog::warn("volumes: rename {}: {}", path, std::strerror(errno));
    return path;
  }
  return trash;
}

void VolumeStore::Release(const std::string& container_id, bool remove_anonymous,
                          const std::vector<std::string>& also_remove) {
  std::vector<std::string> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> unused;
    for (auto& [name, stored] : volumes_) {
      if (stored.users.erase(container_id) == 0 || !stored.users.empty()) continue;
      if (remove_anonymous && stored.volume.anonymous()) unused.push_back(name);
    }
    for (const std::string& name : also_remove) {
      auto it = volumes_.find(name);
      if (it != volumes_.end() && it->second.users.empty()) unused.push_back(name);
    }
    for (const std::string& name : unused) {
      if (volumes_.count(name)) doomed.push_back(UnlinkLocked(name));
    }
  }
  for (const std::string& path : doomed) {
    if (absl::Status st = RemoveTree(path); !st.ok()) spdlog::warn("volumes: remove {}: {}", path, std::string(st.message()));
  }
}

absl::Status VolumeStore::Remove(const std::string& name, bool missing_ok) {
  std::string doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = volumes_.find(name);
    if (it == volumes_.end()) {
      if (missing_ok) return absl::OkStatus();
      return absl::NotFoundError(absl::StrCat("no such volume: ", Quoted(name), " (berth volume ls lists them)"));
    }
    if (!it->second.users.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("volume ", Quoted(name), " is in use by container(s) ",
                                                        ShortIds(it->second.users),
                                                        ": remove them first (berth rm)"));
    }
    doomed = UnlinkLocked(name);
  }
  spdlog::info("volume removed name={}", name);
  return RemoveTree(doomed);
}

std::set<std::string> VolumeStore::Users(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = volumes_.find(name);
  return it == volumes_.end() ? std::set<std::string>{} : it->second.users;
}

VolumeStore::Pruned VolumeStore::Prune(bool all, const LabelMatcher& match) {
  Pruned pruned;
  std::vector<std::string> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, stored] : volumes_) {
      if (!stored.users.empty() || (!all && !stored.volume.anonymous()) || !match(stored.volume.labels())) continue;
      names.push_back(name);
    }
    for (const std::string& name : names) {
      pruned.removed.push_back(name);
      doomed.push_back(UnlinkLocked(name));
    }
  }
  // Measured and deleted outside the lock: both walk the whole tree.
  for (const std::string& path : doomed) {
    pruned.reclaimed_bytes += DirectorySize(path);
    (void)RemoveTree(path);
  }
  return pruned;
}

}  // namespace berth::agent
