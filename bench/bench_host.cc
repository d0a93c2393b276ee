#include "bench/bench_host.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "bench/bench_proc.h"

namespace berth::bench {

namespace {

std::string ErrnoText() { return std::strerror(errno); }

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out.push_back(static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct MountEntry {
  std::string root, mount_point, fstype;
  std::vector<std::string> super_options;
};

std::vector<MountEntry> ReadMountInfo() {
  std::vector<MountEntry> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<std::string> head = Split(line.substr(0, dash), ' ');
    std::vector<std::string> tail = Split(line.substr(dash + 3), ' ');
    if (head.size() < 5 || tail.size() < 3) continue;
    mounts.push_back({Unescape(head[3]), Unescape(head[4]), tail[0], Split(tail[2], ',')});
  }
  return mounts;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> SubDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && IsDir(dir + "/" + name))) out.push_back(dir + "/" + name);
  }
  ::closedir(d);
  return out;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  ::remove(path);  // what stays is reported by the caller
  return 0;
}

}  // namespace

std::string MakeTempDir(const std::string& parent, const std::string& prefix) {
  std::string templ = parent + "/" + prefix + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw BenchError("mkdtemp in " + parent + ": " + ErrnoText());
  ::chmod(templ.c_str(), 0711);
  return templ;
}

void MakeDir(const std::string& path, unsigned mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) throw BenchError("mkdir " + path + ": " + ErrnoText());
}

void WriteTextFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw BenchError("open " + path + ": " + ErrnoText());
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    errno = err;
    throw BenchError("write " + path + ": " + ErrnoText());
  }
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw BenchError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool RemoveTree(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return true;
  ::nftw(path.c_str(), RemoveEntry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  return ::access(path.c_str(), F_OK) != 0;
}

std::vector<CgroupHierarchy> OwnCgroupHierarchies() {
  // /proc/self/cgroup: "id:controllers:path"; v2 is "0::path".
  struct Membership {
    std::vector<std::string> controllers;
    std::string path;
  };
  std::vector<Membership> memberships;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    memberships.push_back({Split(line.substr(a + 1, b - a - 1), ','), line.substr(b + 1)});
  }
  std::vector<MountEntry> mounts = ReadMountInfo();
  bool have_v1 = false;
  for (const auto& m : mounts) have_v1 = have_v1 || m.fstype == "cgroup";

  std::vector<CgroupHierarchy> out;
  std::set<size_t> used;  // one mount per hierarchy
  for (const auto& m : mounts) {
    if (m.fstype != "cgroup" && m.fstype != "cgroup2") continue;
    if (m.fstype == "cgroup2" && have_v1) continue;  // hybrid: hidden in the private namespace
    std::set<std::string> opts(m.super_options.begin(), m.super_options.end());
    for (size_t i = 0; i < memberships.size(); ++i) {
      const Membership& ms = memberships[i];
      bool match;
      if (m.fstype == "cgroup2") {
        match = ms.controllers.empty() || (ms.controllers.size() == 1 && ms.controllers[0].empty());
      } else {
        match = !ms.controllers.empty() && !ms.controllers[0].empty();
        for (const auto& c : ms.controllers) match = match && opts.count(c) > 0;
      }
      if (!match || used.count(i)) continue;
      std::string rel = ms.path;
      if (m.root != "/") {
        if (rel.rfind(m.root, 0) != 0) continue;  // our cgroup is outside what this mount shows
        rel = rel.substr(m.root.size());
      }
      if (rel == "/") rel.clear();
      used.insert(i);
      out.push_back({m.mount_point, m.mount_point + rel, opts.count("cpuset") > 0, m.fstype == "cgroup2"});
      break;
    }
  }
  return out;
}

std::string HybridCgroup2MountPoint() {
  std::vector<MountEntry> mounts = ReadMountInfo();
  bool have_v1 = false;
  for (const auto& m : mounts) have_v1 = have_v1 || m.fstype == "cgroup";
  if (!have_v1) return "";
  for (const auto& m : mounts) {
    if (m.fstype == "cgroup2") return m.mount_point;
  }
  return "";
}

bool MakeCgroup(const CgroupHierarchy& h, const std::string& dir) {
  bool made = ::mkdir(dir.c_str(), 0755) == 0;
  if (!made && errno != EEXIST) throw BenchError("mkdir cgroup " + dir + ": " + ErrnoText());
  if (h.cpuset && !h.v2) {
    std::string parent = dir.substr(0, dir.find_last_of('/'));
    for (const char* name : {"cpuset.cpus", "cpuset.mems"}) {
      std::string mine = dir + "/" + name;
      if (!Trimmed(ReadTextFile(mine)).empty()) continue;
      std::string value = Trimmed(ReadTextFile(parent + "/" + name));
      if (value.empty()) throw BenchError(parent + "/" + name + " is empty");
      WriteTextFile(mine, value);
    }
  }
  return made;
}

bool KillAndRemoveCgroupTree(const std::string& dir) {
  if (!IsDir(dir)) return true;
  bool ok = true;
  for (const std::string& sub : SubDirs(dir)) ok = KillAndRemoveCgroupTree(sub) && ok;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::ifstream procs(dir + "/cgroup.procs");
    pid_t pid;
    while (procs >> pid) ::kill(pid, SIGKILL);
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return ok;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "berth-bench: cannot remove cgroup %s: %s\n", dir.c_str(), ErrnoText().c_str());
  return false;
}

void EnterPrivateMountNamespace() {
  if (::unshare(CLONE_NEWNS) != 0) throw BenchError("unshare(CLONE_NEWNS): " + ErrnoText());
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    throw BenchError("make mounts private: " + ErrnoText());
  }
}

void Unmount(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH) != 0) throw BenchError("umount " + target + ": " + ErrnoText());
}

bool TryUnmount(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH) == 0) return true;
  std::fprintf(stderr, "berth-bench: umount %s: %s\n", target.c_str(), ErrnoText().c_str());
  return false;
}

void BindMount(const std::string& source, const std::string& target) {
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw BenchError("bind " + source + " on " + target + ": " + ErrnoText());
  }
}

void MountOverlay(const std::string& lower, const std::string& upper, const std::string& work,
                  const std::string& target) {
  std::string options = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) != 0) {
    throw BenchError("overlay on " + target + ": " + ErrnoText());
  }
}

}  // namespace berth::bench
