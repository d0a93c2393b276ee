// Host plumbing for berth-bench: temp dirs, the private mount namespace crun runs from, overlay
// mounts, and the cgroups the bench creates below its own. Failures throw BenchError; the
// cleanup functions never throw and return what they could not undo.
#pragma once

#include <string>
#include <vector>

namespace berth::bench {

std::string MakeTempDir(const std::string& parent, const std::string& prefix);
void MakeDir(const std::string& path, unsigned mode = 0755);  // one level; an existing dir is fine
void WriteTextFile(const std::string& path, const std::string& text);
std::string ReadTextFile(const std::string& path);
// Deletes a tree without crossing into other mounts; returns false if something is left.
bool RemoveTree(const std::string& path);

// The cgroup hierarchies this process is in, as mounted under /sys/fs/cgroup: every v1
// hierarchy, and a cgroup2 mount unless it is the controller-less one of a hybrid host (which
// the private mount namespace hides). own_dir = the directory of our own cgroup.
struct CgroupHierarchy {
  std::string mount_point;  // e.g. /sys/fs/cgroup/memory
  std::string own_dir;      // e.g. /sys/fs/cgroup/memory/some/where
  bool cpuset = false;
  bool v2 = false;
};
std::vector<CgroupHierarchy> OwnCgroupHierarchies();
// The mount point of a cgroup2 mount with no controllers next to v1 hierarchies (hybrid), or "".
std::string HybridCgroup2MountPoint();

// mkdir of one cgroup; a new v1 cpuset gets its parent's cpus and mems. Returns true if it made it.
bool MakeCgroup(const CgroupHierarchy& h, const std::string& dir);
// SIGKILLs every process in the cgroup tree at `dir` (those can only be ones the bench's
// containers started), then removes its directories deepest first. Returns false if some
// directory stays (still busy).
bool KillAndRemoveCgroupTree(const std::string& dir);

// unshare(CLONE_NEWNS) and make every mount private. Must run before any thread exists.
void EnterPrivateMountNamespace();
void Unmount(const std::string& target);  // lazy; throws
bool TryUnmount(const std::string& target);
void BindMount(const std::string& source, const std::string& target);
void MountOverlay(const std::string& lower, const std::string& upper, const std::string& work,
                  const std::string& target);

}  // namespace berth::bench
