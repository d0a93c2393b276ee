#include "agent/container_record.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/message_file.h"
#include "runtime/base/errno_status.h"

namespace berth::agent {
namespace {

constexpr absl::string_view kPendingInfix = ".pending-";

}  // namespace

absl::Status SaveRecord(const std::string& path, const v1::Container& container, Durability durability) {
  return SaveMessage(path, container, durability);
}

absl::StatusOr<v1::Container> LoadRecord(const std::string& path) {
  v1::Container container;
  if (absl::Status st = LoadMessage(path, &container); !st.ok()) return st;
  return container;
}

std::string PendingRecordPath(const std::string& record_path, const std::string& boot_id) {
  return absl::StrCat(record_path, kPendingInfix, boot_id);
}

absl::Status SavePendingRecord(const std::string& pending_path, const v1::Container& container) {
  return SaveMessage(pending_path, container, Durability::kDurable);
}

absl::Status CommitPendingRecord(const std::string& pending_path, const std::string& record_path) {
  if (std::rename(pending_path.c_str(), record_path.c_str()) != 0) {
    return ErrnoToStatus(absl::StrCat("rename ", pending_path, " to ", record_path));
  }
  return absl::OkStatus();
}

bool AdoptPendingRecordOfEarlierBoot(const std::string& record_path, const std::string& boot_id) {
  const size_t slash = record_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : record_path.substr(0, slash);
  const std::string prefix = absl::StrCat(record_path.substr(slash + 1), kPendingInfix);
  for (const std::string& name : ListDirectory(dir)) {
    // (A name with a dot after the boot id is the atomic write's temporary file.)
    if (!absl::StartsWith(name, prefix) || name.size() == prefix.size() ||
        absl::StrContains(name.substr(prefix.size()), '.')) {
      continue;
    }
    if (name.substr(prefix.size()) == boot_id) return false;  // this boot's: never reported
    const std::string pending = absl::StrCat(dir, "/", name);
    // One that does not read whole was still being written when the node went down: its
    // create cannot have been reported either.
    if (!LoadRecord(pending).ok()) return false;
    return CommitPendingRecord(pending, record_path).ok();
  }
  return false;
}

}  // namespace berth::agent
