#include "runtime/lifecycle/state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"

namespace berth::lifecycle {

namespace {

absl::StatusOr<StateLock> LockDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", dir));
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoToStatus(absl::StrCat("lock ", dir));
  }
  return StateLock(std::move(fd));
}

}  // namespace

StateLock::~StateLock() {
  if (fd_) ::flock(fd_.get(), LOCK_UN);
}

absl::Status ValidateContainerId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("container id: must not be empty");
  if (id.size() > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("container id ", Quoted(id), ": longer than 1024 bytes"));
  }
  bool valid = id != "." && id != ".." && std::all_of(id.begin(), id.end(), [](char c) {
                 return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                        c == '+' || c == '-' || c == '.';
               });
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "container id ", Quoted(id), ": use letters, digits and \"_ + - .\" only"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StateLock> StateStore::CreateDir(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  RETURN_IF_ERROR(MakeDirs(root_, 0700));
  if (::mkdir(Dir(id).c_str(), 0711) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("container ", Quoted(id), " already exists"));
    }
    return ErrnoToStatus(absl::StrCat("mkdir ", Dir(id)));
  }
  return LockDir(Dir(id));
}

absl::StatusOr<StateLock> StateStore::Lock(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  absl::StatusOr<StateLock> lock = LockDir(Dir(id));
  if (!lock.ok() && absl::IsNotFound(lock.status())) {
    return absl::NotFoundError(absl::StrCat("container ", Quoted(id), " does not exist"));
  }
  return lock;
}

absl::StatusOr<ContainerRecord> StateStore::Load(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  absl::StatusOr<std::string> text = ReadFile(Dir(id) + "/state.json");
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat("container ", Quoted(id), " does not exist"));
    }
    return text.status();
  }
  return ParseRecord(*text);
}

absl::Status StateStore::Save(const ContainerRecord& record) const {
  return WriteFileAtomic(Dir(record.id) + "/state.json", SerializeRecord(record), 0600,
                         Durability::kProcessCrashSafe);
}

absl::Status StateStore::Remove(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  return RemoveTree(Dir(id));
}

std::vector<std::string> StateStore::Ids() const {
  std::vector<std::string> ids;
  for (const std::string& name : ListDirectory(root_)) {
    if (ValidateContainerId(name).ok() && ::access((Dir(name) + "/state.json").c_str(), F_OK) == 0) {
      ids.push_back(name);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace berth::lifecycle
