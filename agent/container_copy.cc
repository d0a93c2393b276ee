// `berth cp`: files into and out of a container, whatever its state. A container with a
// process (created, running, paused) is reached through its init's root, which shows its
// mounts (volumes included); an exited one through its overlay, made again as a detached
// mount (nothing to clean up if the agent dies) while its lock keeps a start away.
#include <fcntl.h>
#include <linux/mount.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/container_manager.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"
#include "runtime/container/mount_api.h"
#include "runtime/spec/spec.h"

namespace berth::agent {
namespace {

uint32_t RootHostId(const v1::Container& record) {
  for (const v1::IdRange& r : record.security().uid_map()) {
    if (r.container_id() == 0) return r.host_id();
  }
  return 0;
}

absl::StatusOr<UniqueFd> ExitedRoot(const ContainerPaths& paths) {
  auto spec = spec::LoadBundle(paths.bundle);
  if (!spec.ok()) return Annotate(spec.status(), "read the container's bundle");
  auto lower = spec->annotations.find(spec::kAnnotationOverlayLower);
  if (lower == spec->annotations.end()) return absl::FailedPreconditionError("the container has no overlay root");
  std::vector<std::string> lowers = absl::StrSplit(lower->second, ':', absl::SkipEmpty());
  container_internal::MountAttributes attributes;
  attributes.set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;
  auto root = container_internal::MakeOverlay(lowers, paths.upper, paths.work, attributes);
  if (!root.ok()) return Annotate(root.status(), "mount the stopped container's root file system");
  return root;
}

}  // namespace

absl::Status ContainerManager::WithRootFs(const std::string& ref,
                                          const std::function<absl::Status(int root_fd, uint32_t root_host_id)>& fn) {
  auto found = Find(ref);
  if (!found.ok()) return found.status();
  Entry& e = **found;
  std::unique_lock<std::mutex> lock(e.mu);
  if (e.removed) return absl::NotFoundError(absl::StrCat("no such container: ", Quoted(ref)));
  const uint32_t shift = RootHostId(e.record);
  if (e.record.state() != v1::EXITED && e.record.pid() > 0) {
    const pid_t pid = e.record.pid();
    UniqueFd root(::open(absl::StrCat("/proc/", pid, "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    // The pid must still be the container's init once its root is open.
    auto start = ProcessStartTime(pid);
    if (root && start.ok() && *start == e.pid_start_time) {
      lock.unlock();
      return fn(root.get(), shift);
    }
    return absl::FailedPreconditionError(
        absl::StrCat("container ", e.name, " is exiting: try again once it has exited"));
  }
  auto root = ExitedRoot(e.paths);
  if (!root.ok()) return root.status();
  return fn(root->get(), shift);  // under the lock: no start mounts the same upper dir meanwhile
}

absl::StatusOr<int64_t> ContainerManager::CopyTo(const std::string& ref, const std::string& path,
                                                 const std::string& archive_path, bool keep_owner) {
  if (path.empty() || path.size() > 4096) return absl::InvalidArgumentError("path must be 1 to 4096 bytes");
  int64_t entries = 0;
  absl::Status st = WithRootFs(ref, [&](int root_fd, uint32_t shift) -> absl::Status {
    auto done = UnpackTreeArchive(root_fd, path, archive_path, UnpackOptions{keep_owner, shift});
    if (!done.ok()) return done.status();
    entries = *done;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return entries;
}

absl::Status ContainerManager::CopyFrom(const std::string& ref, const std::string& path,
                                        const std::function<absl::Status(const v1::PathStat&)>& on_stat,
                                        const ArchiveSink& sink) {
  if (path.empty() || path.size() > 4096) return absl::InvalidArgumentError("path must be 1 to 4096 bytes");
  return WithRootFs(ref, [&](int root_fd, uint32_t) -> absl::Status {
    auto stat = StatInRoot(root_fd, path);
    if (!stat.ok()) return stat.status();
    if (absl::Status st = on_stat(*stat); !st.ok()) return st;
    return WriteTreeArchive(root_fd, path, sink);
  });
}

}  // namespace berth::agent
