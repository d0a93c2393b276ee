#include "runtime/container/user_namespace.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"

namespace berth::container_internal {

namespace {

absl::Status WriteMap(pid_t pid, const char* file, const std::vector<spec::IdMapping>& mappings) {
  std::string text;
  for (const spec::IdMapping& m : mappings) {
    absl::StrAppend(&text, m.container_id, " ", m.host_id, " ", m.size, "\n");
  }
  // The kernel takes the whole map in one write or not at all.
  return WriteExisting(absl::StrCat("/proc/", pid, "/", file), text);
}

}  // namespace

absl::Status WriteIdMappings(pid_t pid, const std::vector<spec::IdMapping>& uids,
                             const std::vector<spec::IdMapping>& gids) {
  if (absl::Status st = WriteMap(pid, "uid_map", uids); !st.ok()) return st;
  return WriteMap(pid, "gid_map", gids);
}

absl::StatusOr<UniqueFd> OpenUserNamespace(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/ns/user");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", path));
  return fd;
}

std::optional<uint32_t> HostIdOf(uint32_t container_id, const std::vector<spec::IdMapping>& mappings) {
  for (const spec::IdMapping& m : mappings) {
    if (container_id >= m.container_id && uint64_t{container_id} < uint64_t{m.container_id} + m.size) {
      return m.host_id + (container_id - m.container_id);
    }
  }
  return std::nullopt;
}

}  // namespace berth::container_internal
