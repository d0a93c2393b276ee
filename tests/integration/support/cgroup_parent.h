// A cgroup parent for third-party managers (Podman, containerd) that take an absolute
// cgroup path: below this process's own cgroup (the memory one on v1, where we may sit apart
// from the hierarchy root). The same path is made in every hierarchy, so each directory on
// it that does not exist yet is remembered, and Remove() takes those away again, deepest
// first, with whatever the manager left below them.
#pragma once

#include <string>
#include <vector>

namespace berth::testing {

class ForeignCgroupParent {
 public:
  explicit ForeignCgroupParent(const std::string& name);
  ~ForeignCgroupParent() { Remove(); }

  const std::string& path() const { return path_; }  // absolute, e.g. /process_api/x/berth-ctd-1
  // Returns false if a directory it made could not be removed.
  bool Remove();

 private:
  std::string path_;
  std::vector<std::string> made_;
};

}  // namespace berth::testing
