#include "tests/integration/support/cgroup_parent.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/file_util.h"

namespace berth::testing {

namespace {

// Each hierarchy's mount point and this process's cgroup in it.
std::vector<std::pair<std::string, std::string>> OwnCgroups() {
  std::vector<std::pair<std::string, std::string>> out;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    std::string controllers = parts[1];
    if (controllers.empty()) {
      out.emplace_back("/sys/fs/cgroup/unified", parts[2]);
      continue;
    }
    if (absl::StartsWith(controllers, "name=")) controllers = controllers.substr(5);
    out.emplace_back("/sys/fs/cgroup/" + controllers, parts[2]);
  }
  return out;
}

void RemoveBelow(const std::string& dir) {
  for (const std::string& child : ListDirectory(dir)) {
    std::string path = dir + "/" + child;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      RemoveBelow(path);
      ::rmdir(path.c_str());
    }
  }
}

}  // namespace

ForeignCgroupParent::ForeignCgroupParent(const std::string& name) {
  std::string own = "/";
  for (const auto& [mount, path] : OwnCgroups()) {
    if (absl::EndsWith(mount, "memory") || absl::EndsWith(mount, "unified")) own = path;
  }
  path_ = absl::StrCat(own == "/" ? "" : own, "/", name);
  for (const auto& [mount, unused] : OwnCgroups()) {
    std::string dir = mount;
    for (absl::string_view part : absl::StrSplit(path_, '/', absl::SkipEmpty())) {
      absl::StrAppend(&dir, "/", part);
      if (::access(dir.c_str(), F_OK) != 0) made_.push_back(dir);
    }
  }
}

bool ForeignCgroupParent::Remove() {
  std::vector<std::string> dirs = std::move(made_);
  made_.clear();
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  bool clean = true;
  for (const std::string& d : dirs) {
    if (::access(d.c_str(), F_OK) != 0) continue;
    RemoveBelow(d);
    if (::rmdir(d.c_str()) != 0) clean = false;
  }
  return clean;
}

}  // namespace berth::testing
