// FakeCgroupKernel: cgroupfs for unit tests, kept as a plain directory tree (in a temporary
// directory the test owns) so a failing test leaves something to look at. Header-only so any
// test can use it without another library.
//
// It imitates what the drivers rely on from the kernel: mkdir fills a new cgroup with its
// control files (v1: per the hierarchy's controllers, empty cpuset.cpus/mems; v2: the files
// of the controllers the parent enabled), writes need an existing file, cgroup.procs moves a
// pid (refused with ENOSPC into an empty v1 cpuset, EBUSY by v2's no-internal-process rule),
// subtree_control only enables offered controllers, memsw must stay >= the memory limit,
// freezing and cgroup.kill take effect, SIGKILL empties a pid from every cgroup, and rmdir
// refuses a cgroup with processes or children. v1 devices.allow/devices.deny take lines in
// the kernel's syntax (EINVAL otherwise; they are write-only, so the record is `writes`); a
// v2 device program is kept per directory. Time is a counter that SleepFor advances.
#pragma once

#include <linux/bpf.h>
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/cgroup/cgroup_kernel.h"

namespace berth {

class FakeCgroupKernel : public CgroupKernel {
 public:
  // What the kernel shows for "no memory limit": INT64_MAX rounded down to a page.
  static constexpr int64_t kUnlimited = 9223372036854771712;

  // A v1 hierarchy mounted at `mount_point` (created) holding `controllers`.
  void AddV1Hierarchy(const std::string& mount_point, std::vector<std::string> controllers) {
    hierarchies_.push_back({mount_point, false, controllers});
    std::filesystem::create_directories(mount_point);
    for (const auto& [name, content] : FilesForNew(hierarchies_.back(), mount_point)) {
      Put(JoinPath(mount_point, name), content);
    }
    if (Has(controllers, "cpuset")) {
      Put(JoinPath(mount_point, "cpuset.cpus"), "0-1\n");
      Put(JoinPath(mount_point, "cpuset.mems"), "0\n");
    }
  }

  // The cgroup2 hierarchy at `mount_point` (created) offering `controllers` at its root.
  void AddV2Hierarchy(const std::string& mount_point, std::vector<std::string> controllers) {
    hierarchies_.push_back({mount_point, true, controllers});
    std::filesystem::create_directories(mount_point);
    for (const auto& [name, content] : V2Files("")) Put(JoinPath(mount_point, name), content);
    Put(JoinPath(mount_point, "cgroup.controllers"), absl::StrJoin(controllers, " ") + "\n");
  }

  // mkdir -p through MakeDir, so every level gets its files: for a test's "own" cgroup.
  void MakeCgroups(const std::string& dir) {
    const Hierarchy* h = HierarchyOf(dir);
    if (h == nullptr || dir == h->root) return;
    MakeCgroups(std::filesystem::path(dir).parent_path().string());
    (void)MakeDir(dir);
  }

  // Test knobs and records.
  bool freeze_gets_stuck = false;  // freezing never completes (a task in D state)
  bool has_cgroup_kill = true;     // v2 cgroup.kill exists (kernel >= 5.14)
  bool has_memsw = true;           // v1 swap accounting on
  std::set<pid_t> unkillable;      // pids SIGKILL does not remove
  std::vector<std::pair<std::string, std::string>> writes;  // (file, data), in order
  std::vector<std::string> reads;                           // files, in order
  std::vector<std::pair<pid_t, int>> kills;                 // (pid, signal), in order
  // The device program attached to each v2 directory (SetDeviceProgram replaces it).
  std::map<std::string, std::vector<struct bpf_insn>> device_programs;
  // chown()s of delegated cgroups: path -> (uid, gid).
  std::map<std::string, std::pair<uid_t, gid_t>> owners;
  absl::Time now = absl::UnixEpoch();

  // A control file's content without surrounding whitespace; "<missing>" when absent.
  std::string Value(const std::string& file) const {
    absl::StatusOr<std::string> s = Content(file);
    return s.ok() ? std::string(absl::StripAsciiWhitespace(*s)) : "<missing>";
  }

  // Puts `pids` into `dir`'s cgroup.procs as if they had been started there.
  void SetProcs(const std::string& dir, const std::vector<pid_t>& pids) {
    std::string text;
    for (pid_t p : pids) absl::StrAppend(&text, p, "\n");
    Put(JoinPath(dir, "cgroup.procs"), text);
  }

  absl::Status MakeDir(const std::string& dir) override {
    namespace fs = std::filesystem;
    if (fs::exists(dir)) return ErrnoStatus(EEXIST, absl::StrCat("mkdir ", dir));
    std::string parent = fs::path(dir).parent_path().string();
    const Hierarchy* h = HierarchyOf(dir);
    if (h == nullptr || !fs::is_directory(parent)) {
      return ErrnoStatus(ENOENT, absl::StrCat("mkdir ", dir));
    }
    fs::create_directory(dir);
    for (const auto& [name, content] : FilesForNew(*h, parent)) Put(JoinPath(dir, name), content);
    return absl::OkStatus();
  }

  absl::Status RemoveDir(const std::string& dir) override {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) return ErrnoStatus(ENOENT, absl::StrCat("rmdir ", dir));
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_directory()) return ErrnoStatus(EBUSY, absl::StrCat("rmdir ", dir));
    }
    if (!Procs(dir).empty()) return ErrnoStatus(EBUSY, absl::StrCat("rmdir ", dir));
    fs::remove_all(dir);  // the kernel drops the control files with the directory
    // ... and detaches the directory's programs.
    device_programs.erase(dir);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListSubdirs(const std::string& dir) override {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) return ErrnoStatus(ENOENT, absl::StrCat("opendir ", dir));
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_directory()) out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  bool Exists(const std::string& path) override { return std::filesystem::exists(path); }

  absl::StatusOr<std::string> Read(const std::string& file) override {
    reads.push_back(file);
    return Content(file);
  }

  // What Read returns, without recording a read.
  absl::StatusOr<std::string> Content(const std::string& file) const {
    std::ifstream in(file);
    if (!std::filesystem::is_regular_file(file) || !in) {
      return ErrnoStatus(ENOENT, absl::StrCat("open ", file));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  absl::Status Write(const std::string& file, absl::string_view data) override {
    namespace fs = std::filesystem;
    writes.emplace_back(file, std::string(data));
    if (!fs::is_regular_file(file)) return ErrnoStatus(ENOENT, absl::StrCat("open ", file));
    std::string dir = fs::path(file).parent_path().string();
    std::string name = fs::path(file).filename().string();
    std::string value(absl::StripAsciiWhitespace(data));
    const Hierarchy* h = HierarchyOf(dir);
    auto fail = [&](int err) { return ErrnoStatus(err, absl::StrCat("write ", file)); };
    if (h == nullptr) return fail(ENOENT);

    if (name == "cgroup.procs") {
      pid_t pid = 0;
      if (!absl::SimpleAtoi(value, &pid) || pid <= 0) return fail(EINVAL);
      if (!h->v2 && Has(h->controllers, "cpuset") &&
          (Value(JoinPath(dir, "cpuset.cpus")).empty() ||
           Value(JoinPath(dir, "cpuset.mems")).empty())) {
        return fail(ENOSPC);
      }
      if (h->v2 && dir != h->root && !Value(JoinPath(dir, "cgroup.subtree_control")).empty()) {
        return fail(EBUSY);
      }
      ForEachCgroup(*h, [&](const std::string& d) { RemovePid(d, pid); });
      std::vector<pid_t> pids = Procs(dir);
      pids.push_back(pid);
      SetProcs(dir, pids);
      return absl::OkStatus();
    }
    if (name == "cgroup.subtree_control") {
      std::vector<std::string> offered = Words(Value(JoinPath(dir, "cgroup.controllers")));
      std::set<std::string> enabled;
      for (const std::string& w : Words(Value(file))) enabled.insert(w);
      bool adds = false;
      for (const std::string& w : Words(value)) {
        std::string c = w.substr(1);
        if (w[0] == '+') {
          if (!Has(offered, c)) return fail(ENOENT);
          adds = true;
          enabled.insert(c);
        } else if (w[0] == '-') {
          enabled.erase(c);
        } else {
          return fail(EINVAL);
        }
      }
      if (adds && dir != h->root && !Procs(dir).empty()) return fail(EBUSY);
      Put(file, absl::StrJoin(enabled, " ") + "\n");
      return absl::OkStatus();
    }
    if (name == "cgroup.freeze") {
      if (value != "0" && value != "1") return fail(EINVAL);
      Put(file, value + "\n");
      bool frozen = value == "1" && !freeze_gets_stuck;
      Put(JoinPath(dir, "cgroup.events"), absl::StrCat("populated ", Procs(dir).empty() ? 0 : 1,
                                                       "\nfrozen ", frozen ? 1 : 0, "\n"));
      return absl::OkStatus();
    }
    if (name == "cgroup.kill") {
      if (value != "1") return fail(EINVAL);
      ForEachCgroupBelow(dir, [&](const std::string& d) {
        for (pid_t pid : Procs(d)) Kill(pid, SIGKILL).IgnoreError();
      });
      return absl::OkStatus();
    }
    if (name == "freezer.state") {
      if (value != "FROZEN" && value != "THAWED") return fail(EINVAL);
      Put(file, (value == "FROZEN" && freeze_gets_stuck ? "FREEZING" : value) + "\n");
      return absl::OkStatus();
    }
    if (name == "devices.allow" || name == "devices.deny") {
      if (!IsDeviceLine(value)) return fail(EINVAL);
      return absl::OkStatus();  // write-only files: nothing to read back
    }
    if (name == "memory.limit_in_bytes" || name == "memory.memsw.limit_in_bytes") {
      int64_t bytes = 0;
      if (!absl::SimpleAtoi(value, &bytes)) return fail(EINVAL);
      if (bytes < 0) bytes = kUnlimited;
      bool is_memsw = name == "memory.memsw.limit_in_bytes";
      std::string other =
          JoinPath(dir, is_memsw ? "memory.limit_in_bytes" : "memory.memsw.limit_in_bytes");
      int64_t other_bytes = 0;
      if (Exists(other) && absl::SimpleAtoi(Value(other), &other_bytes)) {
        int64_t mem = is_memsw ? other_bytes : bytes;
        int64_t memsw = is_memsw ? bytes : other_bytes;
        if (memsw < mem) return fail(EINVAL);  // the kernel's memsw >= memory rule
      }
      Put(file, absl::StrCat(bytes, "\n"));
      return absl::OkStatus();
    }
    Put(file, value + "\n");
    return absl::OkStatus();
  }

  absl::Status SetDeviceProgram(const std::string& dir,
                                const std::vector<struct bpf_insn>& program) override {
    const Hierarchy* h = HierarchyOf(dir);
    if (h == nullptr || !h->v2 || !std::filesystem::is_directory(dir)) {
      return ErrnoStatus(ENOENT, absl::StrCat("open ", dir));
    }
    device_programs[dir] = program;
    return absl::OkStatus();
  }

  absl::Status Chown(const std::string& path, uid_t uid, gid_t gid) override {
    if (!std::filesystem::exists(path)) return ErrnoStatus(ENOENT, absl::StrCat("chown ", path));
    owners[path] = {uid, gid};
    return absl::OkStatus();
  }

  absl::Status Kill(pid_t pid, int signal) override {
    kills.emplace_back(pid, signal);
    if (signal != SIGKILL || unkillable.count(pid)) return absl::OkStatus();
    for (const Hierarchy& h : hierarchies_) {
      ForEachCgroup(h, [&](const std::string& d) { RemovePid(d, pid); });
    }
    return absl::OkStatus();
  }

  absl::Time Now() override { return now; }
  void SleepFor(absl::Duration d) override { now += d; }

 private:
  struct Hierarchy {
    std::string root;
    bool v2 = false;
    std::vector<std::string> controllers;
  };

  static std::string JoinPath(const std::string& dir, absl::string_view name) {
    return absl::StrCat(dir, "/", name);
  }
  static bool Has(const std::vector<std::string>& v, absl::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }
  static std::vector<std::string> Words(absl::string_view text) {
    return absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  }

  // "a" (the kernel ignores the rest of such a line), or "c|b MAJOR|*:MINOR|* ACCESS".
  static bool IsDeviceLine(absl::string_view line) {
    if (!line.empty() && line[0] == 'a') return true;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 3 || (parts[0] != "c" && parts[0] != "b")) return false;
    std::vector<std::string> numbers = absl::StrSplit(parts[1], ':');
    if (numbers.size() != 2) return false;
    for (const std::string& n : numbers) {
      uint32_t value = 0;
      if (n != "*" && !absl::SimpleAtoi(n, &value)) return false;
    }
    return !parts[2].empty() && parts[2].size() <= 3 &&
           parts[2].find_first_not_of("rwm") == std::string::npos;
  }

  static void Put(const std::string& file, absl::string_view content) {
    std::ofstream out(file, std::ios::trunc);
    out << content;
  }

  const Hierarchy* HierarchyOf(const std::string& path) const {
    for (const Hierarchy& h : hierarchies_) {
      if (path == h.root || absl::StartsWith(path, h.root + "/")) return &h;
    }
    return nullptr;
  }

  // The files a kernel puts in a new cgroup below `parent`.
  std::map<std::string, std::string> FilesForNew(const Hierarchy& h, const std::string& parent) {
    std::map<std::string, std::string> files;
    if (h.v2) {
      files = V2Files("");
      std::string enabled = Value(JoinPath(parent, "cgroup.subtree_control"));
      files["cgroup.controllers"] = enabled + "\n";
      for (const std::string& c : Words(enabled)) files.merge(V2Files(c));
      if (!has_cgroup_kill) files.erase("cgroup.kill");
      return files;
    }
    files = {{"cgroup.procs", ""}, {"tasks", ""}, {"notify_on_release", "0\n"}};
    for (const std::string& c : h.controllers) files.merge(V1Files(c));
    if (!has_memsw) files.erase("memory.memsw.limit_in_bytes");
    return files;
  }

  static std::map<std::string, std::string> V1Files(absl::string_view controller) {
    std::string unlimited = absl::StrCat(kUnlimited, "\n");
    if (controller == "memory") {
      return {{"memory.limit_in_bytes", unlimited},
              {"memory.memsw.limit_in_bytes", unlimited},
              {"memory.usage_in_bytes", "0\n"},
              {"memory.failcnt", "0\n"},
              {"memory.stat", "cache 0\nrss 0\ninactive_file 0\ntotal_cache 0\ntotal_rss 0\ntotal_inactive_file 0\n"},
              {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}};
    }
    if (controller == "cpu") {
      return {{"cpu.cfs_quota_us", "-1\n"},
              {"cpu.cfs_period_us", "100000\n"},
              {"cpu.shares", "1024\n"},
              {"cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"}};
    }
    if (controller == "cpuacct") return {{"cpuacct.usage", "0\n"}, {"cpuacct.stat", "user 0\nsystem 0\n"}};
    if (controller == "cpuset") return {{"cpuset.cpus", "\n"}, {"cpuset.mems", "\n"}};
    if (controller == "pids") return {{"pids.max", "max\n"}, {"pids.current", "0\n"}};
    if (controller == "freezer") return {{"freezer.state", "THAWED\n"}};
    if (controller == "devices") {
      return {{"devices.list", "a *:* rwm\n"}, {"devices.allow", ""}, {"devices.deny", ""}};
    }
    if (controller == "blkio") {
      return {{"blkio.weight", "500\n"},
              {"blkio.throttle.io_service_bytes_recursive", "Total 0\n"},
              {"blkio.throttle.io_serviced_recursive", "Total 0\n"}};
    }
    return {};
  }

  static std::map<std::string, std::string> V2Files(absl::string_view controller) {
    if (controller.empty()) {
      return {{"cgroup.procs", ""},           {"cgroup.controllers", ""},
              {"cgroup.subtree_control", ""}, {"cgroup.events", "populated 0\nfrozen 0\n"},
              {"cgroup.freeze", "0\n"},       {"cgroup.kill", ""},
              {"cgroup.type", "domain\n"},
              {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"}};
    }
    if (controller == "memory") {
      return {{"memory.max", "max\n"},
              {"memory.swap.max", "max\n"},
              {"memory.current", "0\n"},
              {"memory.stat", "anon 0\nfile 0\ninactive_file 0\n"},
              {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"}};
    }
    if (controller == "cpu") {  // the throttling lines join the core ones
      return {{"cpu.max", "max 100000\n"},
              {"cpu.weight", "100\n"},
              {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"}};
    }
    if (controller == "pids") return {{"pids.max", "max\n"}, {"pids.current", "0\n"}};
    if (controller == "cpuset") return {{"cpuset.cpus", "\n"}, {"cpuset.mems", "\n"}};
    if (controller == "io") return {{"io.max", ""}, {"io.stat", ""}};
    return {};
  }

  std::vector<pid_t> Procs(const std::string& dir) {
    std::vector<pid_t> pids;
    for (const std::string& w : Words(Value(JoinPath(dir, "cgroup.procs")))) {
      pid_t p = 0;
      if (absl::SimpleAtoi(w, &p)) pids.push_back(p);
    }
    return pids;
  }

  void RemovePid(const std::string& dir, pid_t pid) {
    std::vector<pid_t> pids = Procs(dir);
    auto it = std::remove(pids.begin(), pids.end(), pid);
    if (it == pids.end()) return;
    pids.erase(it, pids.end());
    SetProcs(dir, pids);
  }

  template <typename F>
  void ForEachCgroupBelow(const std::string& dir, F f) {
    f(dir);
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.is_directory()) f(e.path().string());
    }
  }

  template <typename F>
  void ForEachCgroup(const Hierarchy& h, F f) {
    ForEachCgroupBelow(h.root, f);
  }

  std::vector<Hierarchy> hierarchies_;
};

}  // namespace berth
