// The cgroup drivers on this machine's real cgroupfs. Needs root; skips otherwise. Every
// cgroup it makes is named berth-test-<pid>-<n>, sits below this process's own cgroup, and
// is removed again (TearDown destroys it even after a failure).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/open_in_cgroup.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/cgroup_self_join.h"

namespace berth {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

constexpr int64_t kMiB = 1024 * 1024;

std::string Trimmed(const std::string& file) {
  absl::StatusOr<std::string> s = ReadFile(file);
  return s.ok() ? std::string(absl::StripAsciiWhitespace(*s))
                : absl::StrCat("<", s.status().ToString(), ">");
}

// A forked child that waits in pause() until killed; `forks` grandchildren of its own, made
// after the parent writes a byte to the pipe (so they start inside the cgroup).
class Child {
 public:
  explicit Child(int forks = 0) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      char c;
      if (forks > 0 && ::read(fds[0], &c, 1) == 1) {
        for (int i = 0; i < forks; ++i) {
          if (::fork() == 0) break;  // grandchildren fall through to pause() as well
        }
      }
      for (;;) ::pause();
    }
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Reap();
    }
    if (go_ >= 0) ::close(go_);
  }
  pid_t pid() const { return pid_; }
  void Go() { (void)!::write(go_, "g", 1); }
  // waitpid status; the child is ours to reap (PID 1 here reaps orphans late).
  int Reap() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, 0) == pid_) pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
};

using ::berth::testing::OpenErrnosFrom;

std::string UniqueName() {
  static std::atomic<int> n{0};
  return absl::StrCat("berth-test-", ::getpid(), "-", n++);
}

class CgroupRealV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
    absl::StatusOr<std::string> cgroup = ReadFile("/proc/self/cgroup");
    ASSERT_TRUE(mountinfo.ok() && cgroup.ok());
    mounts_ = ParseCgroupV1Mounts(*mountinfo, *cgroup);
    bool memory = false;
    for (const CgroupMountV1& m : mounts_) {
      for (const std::string& c : m.controllers) memory |= c == "memory";
    }
    if (!memory) GTEST_SKIP() << "no cgroup v1 memory hierarchy";
    driver_ = MakeCgroupDriverV1(mounts_);
    name_ = UniqueName();
  }

  void TearDown() override {
    if (driver_ == nullptr) return;
    EXPECT_TRUE(driver_->Destroy(name_).ok());
    for (const char* c : {"memory", "cpu", "cpuacct", "pids", "freezer", "cpuset"}) {
      absl::StatusOr<std::string> dir = driver_->Directory(name_, c);
      if (dir.ok()) {
        EXPECT_FALSE(std::filesystem::exists(*dir)) << *dir;
      }
    }
  }

  std::string File(absl::string_view controller, const std::string& path, const char* file) {
    absl::StatusOr<std::string> dir = driver_->Directory(path, controller);
    return dir.ok() ? absl::StrCat(*dir, "/", file) : "<no hierarchy>";
  }

  std::vector<CgroupMountV1> mounts_;
  std::unique_ptr<CgroupDriver> driver_;
  std::string name_;
};

// What Create reports as made is what the kernel gives a new cgroup: the defaults an update
// would put back, so a create's Apply (CgroupOrigin::kMade) need not read or write them.
TEST_F(CgroupRealV1Test, ACgroupJustMadeHoldsTheDefaultsAndTakesAProcess) {
  absl::StatusOr<CgroupOrigin> origin = driver_->Create(name_);
  ASSERT_TRUE(origin.ok()) << origin.status();
  EXPECT_EQ(*origin, CgroupOrigin::kMade);
  CgroupResources r;
  r.pids_limit = 9;
  absl::Status applied = driver_->Apply(name_, r, CgroupOrigin::kMade);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(Trimmed(File("pids", name_, "pids.max")), "9");
  EXPECT_EQ(Trimmed(File("cpu", name_, "cpu.shares")), "1024");
  EXPECT_EQ(Trimmed(File("cpu", name_, "cpu.cfs_quota_us")), "-1");
  EXPECT_EQ(Trimmed(File("cpu", name_, "cpu.cfs_period_us")), "100000");
  uint64_t limit = 0;
  ASSERT_TRUE(absl::SimpleAtoi(Trimmed(File("memory", name_, "memory.limit_in_bytes")), &limit));
  EXPECT_GE(limit, uint64_t{1} << 62) << "unlimited";
  const std::string memory_parent = std::filesystem::path(*driver_->Directory(name_, "memory")).parent_path();
  EXPECT_EQ(Trimmed(File("memory", name_, "memory.swappiness")), Trimmed(memory_parent + "/memory.swappiness"));
  EXPECT_FALSE(Trimmed(File("cpuset", name_, "cpuset.cpus")).empty());
  EXPECT_FALSE(Trimmed(File("cpuset", name_, "cpuset.mems")).empty());
  Child child;  // a process can join: its cpuset has cpus and mems
  ASSERT_GT(child.pid(), 0);
  absl::Status added = driver_->AddProcess(name_, child.pid());
  ASSERT_TRUE(added.ok()) << added;
  EXPECT_EQ(*driver_->Create(name_), CgroupOrigin::kFound);
  ASSERT_TRUE(driver_->Destroy(name_).ok());
  child.Reap();
}

// A container's init joins its cgroup from its new user namespace, writing itself through files
// its parent opened (the kernel checks the opener's credentials), into every hierarchy.
TEST_F(CgroupRealV1Test, AChildMovesItselfThroughFilesItsParentOpened) {
  ASSERT_TRUE(driver_->Create(name_).ok());
  absl::StatusOr<CgroupSelfJoin> join = CgroupSelfJoin::Open(*driver_, name_);
  ASSERT_TRUE(join.ok()) << join.status();
  absl::StatusOr<std::vector<std::string>> files = driver_->SelfJoinFiles(name_);
  ASSERT_TRUE(files.ok() && !files->empty());
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    // 'u': no user namespace; 'f': the join failed.
    char result = 'u';
    if (::unshare(CLONE_NEWUSER) == 0) result = join->Join().ok() ? 'j' : 'f';
    (void)!::write(report[1], &result, 1);
    for (;;) ::pause();
  }
  ASSERT_GT(pid, 0);
  ::close(report[1]);
  absl::Cleanup end = [&] {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(report[0]);
  };
  join->Close();
  char result = 0;
  ASSERT_EQ(::read(report[0], &result, 1), 1);
  ASSERT_EQ(result, 'j') << "u: no user namespace, f: the join failed";
  EXPECT_THAT(*driver_->Processes(name_), Contains(pid));
  // In every hierarchy the driver uses.
  const std::string in_cgroup = Trimmed(absl::StrCat("/proc/", pid, "/cgroup"));
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(in_cgroup, '\n')) {
    if (absl::EndsWith(line, absl::StrCat("/", name_))) ++lines;
  }
  EXPECT_EQ(lines, files->size()) << in_cgroup;
}

TEST_F(CgroupRealV1Test, LimitsProcessesFreezeStatsAndDestroy) {
  ASSERT_TRUE(driver_->Create(name_).ok());
  absl::StatusOr<std::string> memdir = driver_->Directory(name_, "memory");
  ASSERT_TRUE(memdir.ok());
  EXPECT_TRUE(std::filesystem::is_directory(*memdir));

  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.pids_limit = 20;
  r.cpu_quota_us = 50000;
  r.cpu_period_us = 100000;
  absl::Status applied = driver_->Apply(name_, r, CgroupOrigin::kFound);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(Trimmed(File("memory", name_, "memory.limit_in_bytes")), "67108864");
  if (std::filesystem::exists(File("memory", name_, "memory.memsw.limit_in_bytes"))) {
    EXPECT_EQ(Trimmed(File("memory", name_, "memory.memsw.limit_in_bytes")), "67108864");
  }
  EXPECT_EQ(Trimmed(File("pids", name_, "pids.max")), "20");
  EXPECT_EQ(Trimmed(File("cpu", name_, "cpu.cfs_quota_us")), "50000");
  EXPECT_EQ(Trimmed(File("cpu", name_, "cpu.cfs_period_us")), "100000");

  Child child;
  ASSERT_GT(child.pid(), 0);
  absl::Status added = driver_->AddProcess(name_, child.pid());
  ASSERT_TRUE(added.ok()) << added;
  EXPECT_THAT(*driver_->Processes(name_), Contains(child.pid()));
  EXPECT_THAT(Trimmed(absl::StrCat("/proc/", child.pid(), "/cgroup")),
              ::testing::HasSubstr(absl::StrCat("/", name_, "\n")));

  absl::Status frozen = driver_->Freeze(name_);
  ASSERT_TRUE(frozen.ok()) << frozen;
  EXPECT_EQ(Trimmed(File("freezer", name_, "freezer.state")), "FROZEN");
  ASSERT_TRUE(driver_->Thaw(name_).ok());
  EXPECT_EQ(Trimmed(File("freezer", name_, "freezer.state")), "THAWED");

  absl::StatusOr<CgroupStats> stats = driver_->Stats(name_);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pids_current, 1u);
  EXPECT_EQ(stats->oom_kills, 0u);

  // Destroy a frozen cgroup: it must thaw before SIGKILL can take effect.
  ASSERT_TRUE(driver_->Freeze(name_).ok());
  absl::Status destroyed = driver_->Destroy(name_);
  ASSERT_TRUE(destroyed.ok()) << destroyed;
  EXPECT_FALSE(std::filesystem::exists(*memdir));
  int status = child.Reap();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(CgroupRealV1Test, DestroyKillsProcessesForkedInsideTheCgroup) {
  ASSERT_TRUE(driver_->Create(name_).ok());
  Child child(/*forks=*/3);
  ASSERT_TRUE(driver_->AddProcess(name_, child.pid()).ok());
  child.Go();
  absl::Status ran = absl::UnknownError("grandchildren never showed up");
  for (int i = 0; i < 500; ++i) {
    absl::StatusOr<std::vector<pid_t>> procs = driver_->Processes(name_);
    if (procs.ok() && procs->size() == 4) {
      ran = absl::OkStatus();
      break;
    }
    ::usleep(2000);
  }
  ASSERT_TRUE(ran.ok()) << ran;
  ASSERT_TRUE(driver_->Destroy(name_).ok());
  int status = child.Reap();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  // The grandchildren were reparented; they left the cgroup when they died, which rmdir
  // (inside Destroy) already proved.
}

TEST_F(CgroupRealV1Test, NestedPathCopiesCpusetDownAndParentsAreRemovedSeparately) {
  std::string leaf = name_ + "/leaf";
  std::string own_clone_children;  // of the cgroup name_ goes under: ours, not the driver's
  if (absl::StatusOr<std::string> dir = driver_->Directory(name_, "cpuset"); dir.ok()) {
    own_clone_children = Trimmed(std::filesystem::path(*dir).parent_path().string() + "/cgroup.clone_children");
  }
  absl::Status created = driver_->Create(leaf).status();
  ASSERT_TRUE(created.ok()) << created;
  absl::StatusOr<std::string> cpuset = driver_->Directory(leaf, "cpuset");
  if (cpuset.ok()) {
    std::string made_parent = std::filesystem::path(*cpuset).parent_path().string();
    std::string parent = std::filesystem::path(made_parent).parent_path().string();
    EXPECT_EQ(Trimmed(*cpuset + "/cpuset.cpus"), Trimmed(parent + "/cpuset.cpus"));
    EXPECT_EQ(Trimmed(*cpuset + "/cpuset.mems"), Trimmed(parent + "/cpuset.mems"));
    // The level made here hands its cpus and mems to each new child (no write per child);
    // the test's own cgroup, which the driver did not make, is left as it was.
    EXPECT_EQ(Trimmed(made_parent + "/cgroup.clone_children"), "1");
    EXPECT_EQ(Trimmed(parent + "/cgroup.clone_children"), own_clone_children);
    absl::Status sibling = driver_->Create(name_ + "/sibling").status();
    ASSERT_TRUE(sibling.ok()) << sibling;
    EXPECT_EQ(Trimmed(made_parent + "/sibling/cpuset.cpus"), Trimmed(parent + "/cpuset.cpus"));
    EXPECT_EQ(Trimmed(made_parent + "/sibling/cpuset.mems"), Trimmed(parent + "/cpuset.mems"));
    ASSERT_TRUE(driver_->Destroy(name_ + "/sibling").ok());
  }
  Child child;
  ASSERT_TRUE(driver_->AddProcess(leaf, child.pid()).ok());  // the cpuset accepts tasks
  ASSERT_TRUE(driver_->Destroy(leaf).ok());
  EXPECT_FALSE(std::filesystem::exists(*driver_->Directory(leaf, "memory")));
  EXPECT_TRUE(std::filesystem::exists(*driver_->Directory(name_, "memory")));
  child.Reap();
  // TearDown destroys name_ itself.
}

TEST_F(CgroupRealV1Test, MemoryLimitCanBeRaisedLoweredAndLifted) {
  ASSERT_TRUE(driver_->Create(name_).ok());
  std::string mem = File("memory", name_, "memory.limit_in_bytes");
  std::string memsw = File("memory", name_, "memory.memsw.limit_in_bytes");
  bool has_memsw = std::filesystem::exists(memsw);
  CgroupResources r;
  for (int64_t mib : {64, 128, 32}) {
    r.memory_limit_bytes = mib * kMiB;
    absl::Status st = driver_->Apply(name_, r, CgroupOrigin::kFound);
    ASSERT_TRUE(st.ok()) << mib << " MiB: " << st;
    EXPECT_EQ(Trimmed(mem), absl::StrCat(mib * kMiB));
    if (has_memsw) {
      EXPECT_EQ(Trimmed(memsw), absl::StrCat(mib * kMiB));
    }
  }
  r.memory_limit_bytes.reset();
  ASSERT_TRUE(driver_->Apply(name_, r, CgroupOrigin::kFound).ok());
  EXPECT_GT(std::stoll(Trimmed(mem)), 1LL << 60);
}

// cpuset, soft limit, swap, swappiness, the OOM killer (and the deprecated kmem limit, which
// the kernel may ignore) on the real kernel, read back from the files, then put back.
TEST_F(CgroupRealV1Test, CpusetSwapSwappinessAndOomKillerReadBack) {
  for (const char* c : {"cpuset", "memory"}) {
    if (!driver_->Directory(name_, c).ok()) GTEST_SKIP() << "no v1 " << c << " hierarchy";
  }
  ASSERT_TRUE(driver_->Create(name_).ok());
  bool has_memsw = std::filesystem::exists(File("memory", name_, "memory.memsw.limit_in_bytes"));
  std::string parent_memory =
      std::filesystem::path(File("memory", name_, "x")).parent_path().parent_path().string();
  std::string parent_cpuset =
      std::filesystem::path(File("cpuset", name_, "x")).parent_path().parent_path().string();
  CgroupResources r;
  r.cpuset_cpus = std::string("0");
  r.cpuset_mems = std::string("0");
  r.memory_limit_bytes = 64 * kMiB;
  r.memory_reservation_bytes = 32 * kMiB;
  if (has_memsw) r.memory_swap_bytes = 128 * kMiB;
  r.memory_kernel_bytes = 32 * kMiB;
  r.memory_swappiness = 7;
  r.disable_oom_killer = true;
  absl::Status applied = driver_->Apply(name_, r, CgroupOrigin::kFound);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(Trimmed(File("cpuset", name_, "cpuset.cpus")), "0");
  EXPECT_EQ(Trimmed(File("cpuset", name_, "cpuset.mems")), "0");
  EXPECT_EQ(Trimmed(File("memory", name_, "memory.limit_in_bytes")), "67108864");
  EXPECT_EQ(Trimmed(File("memory", name_, "memory.soft_limit_in_bytes")), "33554432");
  if (has_memsw) {
    EXPECT_EQ(Trimmed(File("memory", name_, "memory.memsw.limit_in_bytes")), "134217728");
  }
  EXPECT_EQ(Trimmed(File("memory", name_, "memory.swappiness")), "7");
  EXPECT_THAT(Trimmed(File("memory", name_, "memory.oom_control")),
              ::testing::HasSubstr("oom_kill_disable 1"));
  Child child;
  ASSERT_TRUE(driver_->AddProcess(name_, child.pid()).ok());  // the narrowed cpuset takes it

  // Unset again: what a new cgroup gets (the parent's cpuset, swappiness and OOM killer).
  applied = driver_->Apply(name_, CgroupResources{}, CgroupOrigin::kFound);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(Trimmed(File("cpuset", name_, "cpuset.cpus")),
            Trimmed(parent_cpuset + "/cpuset.cpus"));
  EXPECT_EQ(Trimmed(File("memory", name_, "memory.swappiness")),
            Trimmed(parent_memory + "/memory.swappiness"));
  EXPECT_THAT(Trimmed(File("memory", name_, "memory.oom_control")),
              ::testing::HasSubstr("oom_kill_disable 0"));
  EXPECT_GT(std::stoll(Trimmed(File("memory", name_, "memory.soft_limit_in_bytes"))), 1LL << 60);
  ASSERT_TRUE(driver_->Destroy(name_).ok());
  child.Reap();
  // TearDown checks the cgroup is gone.
}

TEST_F(CgroupRealV1Test, DeviceRulesLetOnlyTheAllowedDevicesOpen) {
  if (!driver_->Directory(name_, "devices").ok()) GTEST_SKIP() << "no v1 devices hierarchy";
  ASSERT_TRUE(driver_->Create(name_).ok());
  CgroupResources r;
  // The allows go to devices.allow one write each, through one open file.
  r.devices = std::vector<CgroupDeviceRule>{
      {false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 5, "rwm"}};
  absl::Status applied = driver_->Apply(name_, r, CgroupOrigin::kFound);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(Trimmed(File("devices", name_, "devices.list")), "c 1:3 rwm\nc 1:5 rwm");
  absl::StatusOr<std::vector<int>> errs = OpenErrnosFrom(
      {"/dev/null", "/dev/zero", "/dev/full"}, [&](pid_t pid) { return driver_->AddProcess(name_, pid); });
  ASSERT_TRUE(errs.ok()) << errs.status();
  EXPECT_EQ((*errs)[0], 0) << std::strerror((*errs)[0]);
  EXPECT_EQ((*errs)[1], 0) << std::strerror((*errs)[1]);
  EXPECT_EQ((*errs)[2], EPERM) << std::strerror((*errs)[2]);

  // Applying again with /dev/full allowed as well opens it.
  r.devices->push_back({true, 'c', 1, 7, "rw"});
  applied = driver_->Apply(name_, r, CgroupOrigin::kFound);
  ASSERT_TRUE(applied.ok()) << applied;
  errs = OpenErrnosFrom({"/dev/null", "/dev/full"},
                        [&](pid_t pid) { return driver_->AddProcess(name_, pid); });
  ASSERT_TRUE(errs.ok()) << errs.status();
  EXPECT_EQ((*errs)[0], 0) << std::strerror((*errs)[0]);
  EXPECT_EQ((*errs)[1], 0) << std::strerror((*errs)[1]);
  // TearDown destroys the cgroup.
}

TEST(CgroupRealDetectTest, DetectsAUsableDriverOnThisHost) {
  absl::StatusOr<std::unique_ptr<CgroupDriver>> driver = DetectCgroupDriver();
  ASSERT_TRUE(driver.ok()) << driver.status();
  EXPECT_THAT((std::vector<std::string>{"v1", "v2"}), Contains(std::string((*driver)->Name())));
}

// v2 on the real kernel, only where DetectCgroupDriver would pick it.
TEST(CgroupRealV2Test, LimitsProcessesFreezeStatsAndDestroy) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  absl::StatusOr<std::unique_ptr<CgroupDriver>> detected = DetectCgroupDriver();
  if (!detected.ok() || (*detected)->Name() != "v2") GTEST_SKIP() << "this host runs v1";
  CgroupDriver& driver = **detected;
  std::string name = UniqueName();
  absl::Status created = driver.Create(name).status();
  ASSERT_TRUE(created.ok()) << created;
  std::string dir = *driver.Directory(name, "");
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.pids_limit = 20;
  r.cpu_quota_us = 50000;
  r.cpu_period_us = 100000;
  absl::Status applied = driver.Apply(name, r, CgroupOrigin::kFound);
  EXPECT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(Trimmed(dir + "/memory.max"), "67108864");
  EXPECT_EQ(Trimmed(dir + "/pids.max"), "20");
  EXPECT_EQ(Trimmed(dir + "/cpu.max"), "50000 100000");
  Child child;
  EXPECT_TRUE(driver.AddProcess(name, child.pid()).ok());
  EXPECT_TRUE(driver.Freeze(name).ok());
  EXPECT_THAT(Trimmed(dir + "/cgroup.events"), ::testing::HasSubstr("frozen 1"));
  EXPECT_TRUE(driver.Thaw(name).ok());
  absl::StatusOr<CgroupStats> stats = driver.Stats(name);
  EXPECT_TRUE(stats.ok() && stats->pids_current == 1u);
  absl::Status destroyed = driver.Destroy(name);
  ASSERT_TRUE(destroyed.ok()) << destroyed;
  EXPECT_FALSE(std::filesystem::exists(dir));
  int status = child.Reap();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

// The v2 driver's core-file half (cgroup.procs, cgroup.freeze, cgroup.kill, rmdir) works on
// any cgroup2 mount, even a hybrid host's that offers no controllers: run it there too.
TEST(CgroupRealV2Test, CoreOperationsWorkOnAnyUnifiedMount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
  absl::StatusOr<std::string> cgroup = ReadFile("/proc/self/cgroup");
  ASSERT_TRUE(mountinfo.ok() && cgroup.ok());
  std::optional<CgroupMountV2> mount = ParseCgroupV2Mount(*mountinfo, *cgroup);
  if (!mount) GTEST_SKIP() << "no cgroup2 mount";
  std::unique_ptr<CgroupDriver> driver = MakeCgroupDriverV2(*mount);
  std::string name = UniqueName();
  absl::Status created = driver->Create(name).status();
  ASSERT_TRUE(created.ok()) << created;
  std::string dir = *driver->Directory(name, "");
  EXPECT_TRUE(driver->Apply(name, CgroupResources{}, CgroupOrigin::kFound).ok());  // nothing asked, nothing needed
  Child child;
  absl::Status added = driver->AddProcess(name, child.pid());
  EXPECT_TRUE(added.ok()) << added;
  EXPECT_THAT(*driver->Processes(name), Contains(child.pid()));
  if (std::filesystem::exists(dir + "/cgroup.freeze")) {
    absl::Status frozen = driver->Freeze(name);
    EXPECT_TRUE(frozen.ok()) << frozen;
    EXPECT_THAT(Trimmed(dir + "/cgroup.events"), ::testing::HasSubstr("frozen 1"));
  }
  absl::Status destroyed = driver->Destroy(name);  // a frozen cgroup, killed
  ASSERT_TRUE(destroyed.ok()) << destroyed;
  EXPECT_FALSE(std::filesystem::exists(dir));
  int status = child.Reap();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

}  // namespace
}  // namespace berth
