// CgroupDriverV1 against FakeCgroupKernel shaped like this host: one hierarchy per controller
// (cpu and cpuacct apart), a named systemd hierarchy, and our memory cgroup below the root.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/errno_status.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/cgroup_self_join.h"
#include "runtime/cgroup/fake_cgroup_kernel.h"

namespace berth {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr const char* kControllers[] = {"cpu",     "cpuacct", "cpuset", "memory",
                                        "devices", "freezer", "blkio",  "pids"};
constexpr int64_t kMiB = 1024 * 1024;

// FakeCgroupKernel whose writes a test can make fail the way a particular kernel would.
class HookedCgroupKernel : public FakeCgroupKernel {
 public:
  // A status to fail the write with, or nullopt for the fake's own behaviour.
  std::function<std::optional<absl::Status>(const std::string& file, absl::string_view data)>
      hook;

  absl::Status Write(const std::string& file, absl::string_view data) override {
    if (hook) {
      if (std::optional<absl::Status> st = hook(file, data)) {
        writes.emplace_back(file, std::string(data));
        return *st;
      }
    }
    return FakeCgroupKernel::Write(file, data);
  }
};

std::string FileName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

class CgroupV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-cgroup-v1-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    hooked_ = std::make_shared<HookedCgroupKernel>();
    kernel_ = hooked_;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Builds the hierarchies (all of kControllers unless `only` is given) and the driver.
  void MakeDriver(std::vector<std::string> only = {}) {
    std::vector<CgroupMountV1> mounts;
    for (const char* c : kControllers) {
      if (!only.empty() && std::find(only.begin(), only.end(), c) == only.end()) continue;
      kernel_->AddV1Hierarchy(Mount(c), {c});
      std::string own = std::string(c) == "memory" ? "/process_api/own" : "/";
      mounts.push_back({{c}, Mount(c), own});
    }
    kernel_->AddV1Hierarchy(Mount("systemd"), {"name=systemd"});
    mounts.push_back({{"name=systemd"}, Mount("systemd"), "/"});
    kernel_->MakeCgroups(Mount("memory") + "/process_api/own");
    driver_ = MakeCgroupDriverV1(mounts, kernel_);
  }

  std::string Mount(const std::string& c) const { return root_ + "/" + c; }
  // Where relative `path` lives in controller `c`'s hierarchy.
  std::string Dir(const std::string& c, const std::string& path) const {
    return c == "memory" ? Mount(c) + "/process_api/own/" + path : Mount(c) + "/" + path;
  }
  std::string Value(const std::string& c, const std::string& path, const std::string& file) {
    return kernel_->Value(Dir(c, path) + "/" + file);
  }
  bool Exists(const std::string& p) { return std::filesystem::exists(p); }

  // Control files a v1 kernel makes that FakeCgroupKernel does not: put them, with a new
  // cgroup's values, in `path`'s memory and cpu cgroups and in its memory parent (our own).
  void AddKernelFiles(const std::string& path) {
    std::string unlimited = absl::StrCat(FakeCgroupKernel::kUnlimited, "\n");
    for (const std::string& dir : {Dir("memory", path), Mount("memory") + "/process_api/own"}) {
      Put(dir + "/memory.soft_limit_in_bytes", unlimited);
      Put(dir + "/memory.kmem.limit_in_bytes", unlimited);
      Put(dir + "/memory.kmem.tcp.limit_in_bytes", unlimited);
      Put(dir + "/memory.swappiness", "60\n");
    }
    Put(Dir("cpu", path) + "/cpu.rt_period_us", "1000000\n");
    Put(Dir("cpu", path) + "/cpu.rt_runtime_us", "0\n");
  }
  static void Put(const std::string& file, const std::string& content) {
    std::ofstream(file, std::ios::trunc) << content;
  }
  // The names of the files written since the last call, in order.
  std::vector<std::string> TakeWrittenFiles() {
    std::vector<std::string> files;
    for (const auto& [file, data] : kernel_->writes) files.push_back(FileName(file));
    kernel_->writes.clear();
    return files;
  }

  std::string root_;
  std::shared_ptr<HookedCgroupKernel> hooked_;
  std::shared_ptr<FakeCgroupKernel> kernel_;
  std::unique_ptr<CgroupDriver> driver_;
};

TEST_F(CgroupV1Test, CreateMakesTheCgroupInEveryUsedHierarchy) {
  MakeDriver();
  EXPECT_EQ(driver_->Name(), "v1");
  ASSERT_TRUE(driver_->Create("c1").ok());
  for (const char* c : kControllers) EXPECT_TRUE(Exists(Dir(c, "c1"))) << c;
  EXPECT_FALSE(Exists(Mount("systemd") + "/c1"));  // named hierarchies are not ours
  EXPECT_EQ(Value("cpuset", "c1", "cpuset.cpus"), "0-1");
  EXPECT_EQ(Value("cpuset", "c1", "cpuset.mems"), "0");
}

TEST_F(CgroupV1Test, CreateMakesIntermediateLevelsAndCopiesCpusetDown) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("berth/abc").ok());
  for (const char* c : kControllers) EXPECT_TRUE(Exists(Dir(c, "berth/abc"))) << c;
  EXPECT_EQ(Value("cpuset", "berth", "cpuset.cpus"), "0-1");
  EXPECT_EQ(Value("cpuset", "berth/abc", "cpuset.cpus"), "0-1");
  EXPECT_EQ(Value("cpuset", "berth/abc", "cpuset.mems"), "0");
  // The same path again, or a sibling under the shared parent, reuses what exists.
  EXPECT_TRUE(driver_->Create("berth/abc").ok());
  EXPECT_TRUE(driver_->Create("berth/def").ok());
}

TEST_F(CgroupV1Test, CreateUndoesItsDirectoriesWhenAStepFails) {
  MakeDriver();
  kernel_->Write(Mount("cpuset") + "/cpuset.cpus", "").IgnoreError();  // nothing to inherit
  absl::Status st = driver_->Create("c1").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("cpuset.cpus is empty"));
  for (const char* c : kControllers) EXPECT_FALSE(Exists(Dir(c, "c1"))) << c;
}

TEST_F(CgroupV1Test, RejectsPathsThatEscapeOrNameTheRoot) {
  MakeDriver();
  for (const char* bad : {"", "..", "a/../b", "../x", "./a", "/", "//"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Create(bad).status())) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Apply(bad, {}, CgroupOrigin::kFound))) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->AddProcess(bad, 42))) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Destroy(bad))) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Directory(bad, "memory").status())) << bad;
  }
}

TEST_F(CgroupV1Test, DirectoryResolvesRelativeToOwnCgroupAndAbsoluteToTheRoot) {
  MakeDriver();
  EXPECT_EQ(*driver_->Directory("a/b", "memory"), Mount("memory") + "/process_api/own/a/b");
  EXPECT_EQ(*driver_->Directory("a//b/", "cpu"), Mount("cpu") + "/a/b");
  EXPECT_EQ(*driver_->Directory("/abs/x", "memory"), Mount("memory") + "/abs/x");
  EXPECT_TRUE(absl::IsNotFound(driver_->Directory("a", "hugetlb").status()));
}

TEST_F(CgroupV1Test, ApplyWritesEveryLimit) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.cpu_quota_us = 50000;
  r.cpu_period_us = 100000;
  r.cpu_shares = 512;
  r.pids_limit = 20;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("memory", "c1", "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(Value("memory", "c1", "memory.memsw.limit_in_bytes"), "67108864");
  EXPECT_EQ(Value("cpu", "c1", "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(Value("cpu", "c1", "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Value("cpu", "c1", "cpu.shares"), "512");
  EXPECT_EQ(Value("pids", "c1", "pids.max"), "20");
}

TEST_F(CgroupV1Test, ApplyKeepsMemswAtOrAboveTheMemoryLimitWhileRaisingAndLowering) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  std::string mem = Dir("memory", "c1") + "/memory.limit_in_bytes";
  std::string memsw = Dir("memory", "c1") + "/memory.memsw.limit_in_bytes";
  auto order = [&] {
    std::vector<std::string> files;
    for (const auto& [file, data] : kernel_->writes) {
      if (file == mem || file == memsw) files.push_back(file);
    }
    kernel_->writes.clear();
    return files;
  };
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;  // lowering from unlimited: memory first
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_THAT(order(), ElementsAre(mem, memsw));
  r.memory_limit_bytes = 128 * kMiB;  // raising: memsw first
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_THAT(order(), ElementsAre(memsw, mem));
  EXPECT_EQ(kernel_->Value(mem), "134217728");
  EXPECT_EQ(kernel_->Value(memsw), "134217728");
  r.memory_limit_bytes.reset();  // back to unlimited: a raise
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_THAT(order(), ElementsAre(memsw, mem));
  EXPECT_EQ(kernel_->Value(mem), absl::StrCat(FakeCgroupKernel::kUnlimited));
}

TEST_F(CgroupV1Test, ApplyWithoutSwapAccountingSetsOnlyTheMemoryLimit) {
  kernel_->has_memsw = false;
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("memory", "c1", "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(Value("memory", "c1", "memory.memsw.limit_in_bytes"), "<missing>");
}

TEST_F(CgroupV1Test, ApplyOfUnsetFieldsRestoresKernelDefaults) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.cpu_quota_us = 50000;
  r.cpu_shares = 2;
  r.pids_limit = 20;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  ASSERT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("memory", "c1", "memory.limit_in_bytes"),
            absl::StrCat(FakeCgroupKernel::kUnlimited));
  EXPECT_EQ(Value("cpu", "c1", "cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(Value("cpu", "c1", "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Value("cpu", "c1", "cpu.shares"), "1024");
  EXPECT_EQ(Value("pids", "c1", "pids.max"), "max");
}

TEST_F(CgroupV1Test, ApplyNeedsTheHierarchyOnlyForLimitsAskedFor) {
  MakeDriver({"memory", "cpu"});
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  EXPECT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  r.pids_limit = 10;
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("pids"));
}

TEST_F(CgroupV1Test, ApplyErrorsNameTheFile) {
  MakeDriver();
  absl::Status st = driver_->Apply("never-created", CgroupResources{}, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsNotFound(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("never-created/memory."));
  EXPECT_THAT(std::string(st.message()), HasSubstr("No such file"));
}

// Every field beyond memory limit, cpu quota/period/shares and pids, all at once.
CgroupResources EveryExtra() {
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.memory_reservation_bytes = 32 * kMiB;
  r.memory_swap_bytes = 128 * kMiB;
  r.memory_kernel_bytes = 16 * kMiB;
  r.memory_kernel_tcp_bytes = 8 * kMiB;
  r.memory_swappiness = 10;
  r.disable_oom_killer = true;
  r.cpu_rt_period_us = 500000;
  r.cpu_rt_runtime_us = 100000;
  r.cpuset_cpus = std::string("1");  // (not = "1": GCC 12 warns wrongly, bug 105329)
  r.cpuset_mems = std::string("0");
  return r;
}

TEST_F(CgroupV1Test, ApplyWritesCpusetRealtimeAndEveryMemoryKnob) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  AddKernelFiles("c1");
  kernel_->writes.clear();
  absl::Status st = driver_->Apply("c1", EveryExtra(), CgroupOrigin::kFound);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Value("cpuset", "c1", "cpuset.cpus"), "1");
  EXPECT_EQ(Value("cpuset", "c1", "cpuset.mems"), "0");
  EXPECT_EQ(Value("cpu", "c1", "cpu.rt_period_us"), "500000");
  EXPECT_EQ(Value("cpu", "c1", "cpu.rt_runtime_us"), "100000");
  EXPECT_EQ(Value("memory", "c1", "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(Value("memory", "c1", "memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(Value("memory", "c1", "memory.soft_limit_in_bytes"), "33554432");
  EXPECT_EQ(Value("memory", "c1", "memory.kmem.limit_in_bytes"), "16777216");
  EXPECT_EQ(Value("memory", "c1", "memory.kmem.tcp.limit_in_bytes"), "8388608");
  EXPECT_EQ(Value("memory", "c1", "memory.swappiness"), "10");
  EXPECT_EQ(Value("memory", "c1", "memory.oom_control"), "1");
  // The realtime period goes first.
  std::vector<std::string> files = TakeWrittenFiles();
  auto period = std::find(files.begin(), files.end(), "cpu.rt_period_us");
  auto runtime = std::find(files.begin(), files.end(), "cpu.rt_runtime_us");
  ASSERT_NE(period, files.end());
  EXPECT_LT(period, runtime);
}

TEST_F(CgroupV1Test, ApplyOfUnsetExtrasRestoresTheNewCgroupValues) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  AddKernelFiles("c1");
  ASSERT_TRUE(driver_->Apply("c1", EveryExtra(), CgroupOrigin::kFound).ok());
  absl::Status st = driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Value("cpuset", "c1", "cpuset.cpus"), "0-1");  // the parent's
  EXPECT_EQ(Value("cpuset", "c1", "cpuset.mems"), "0");
  EXPECT_EQ(Value("cpu", "c1", "cpu.rt_period_us"), "1000000");
  EXPECT_EQ(Value("cpu", "c1", "cpu.rt_runtime_us"), "0");
  EXPECT_EQ(Value("memory", "c1", "memory.memsw.limit_in_bytes"),
            absl::StrCat(FakeCgroupKernel::kUnlimited));
  EXPECT_EQ(Value("memory", "c1", "memory.soft_limit_in_bytes"), "-1");
  EXPECT_EQ(Value("memory", "c1", "memory.kmem.limit_in_bytes"), "-1");
  EXPECT_EQ(Value("memory", "c1", "memory.kmem.tcp.limit_in_bytes"), "-1");
  EXPECT_EQ(Value("memory", "c1", "memory.swappiness"), "60");  // the parent's
  EXPECT_EQ(Value("memory", "c1", "memory.oom_control"), "0");
}

// What the agent asks for (memory, cpu, pids) writes the same files as before the extras.
TEST_F(CgroupV1Test, ApplyOfTheBasicLimitsToANewCgroupWritesNoOtherFile) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  AddKernelFiles("c1");
  kernel_->writes.clear();
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.cpu_quota_us = 50000;
  r.cpu_period_us = 100000;
  r.cpu_shares = 512;
  r.pids_limit = 20;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_THAT(TakeWrittenFiles(),
              ElementsAre("memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                          "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "pids.max"));
}

TEST_F(CgroupV1Test, CreateSaysWhetherItMadeTheCgroupOrFoundIt) {
  MakeDriver();
  absl::StatusOr<CgroupOrigin> first = driver_->Create("berth/c1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, CgroupOrigin::kMade);
  EXPECT_EQ(*driver_->Create("berth/c1"), CgroupOrigin::kFound);
  EXPECT_EQ(*driver_->Create("berth/c2"), CgroupOrigin::kMade);  // a shared parent is not the cgroup
  // There in one hierarchy only (a crash between two mkdirs): found, as it may hold anything.
  ASSERT_EQ(::mkdir(Dir("pids", "berth/c3").c_str(), 0755), 0);
  EXPECT_EQ(*driver_->Create("berth/c3"), CgroupOrigin::kFound);
}

TEST_F(CgroupV1Test, ApplyToACgroupJustMadeTouchesOnlyWhatIsAsked) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  AddKernelFiles("c1");
  kernel_->writes.clear();
  kernel_->reads.clear();
  // Nothing asked: no control file is read or written (an update would read a dozen).
  ASSERT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kMade).ok());
  EXPECT_THAT(kernel_->reads, ::testing::IsEmpty());
  EXPECT_THAT(TakeWrittenFiles(), ::testing::IsEmpty());
  ASSERT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());
  EXPECT_GE(kernel_->reads.size(), 8u) << "an update reads what it may have to put back";
  kernel_->reads.clear();
  TakeWrittenFiles();
  // Some limits: those, and nothing put back to a default it already has.
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.pids_limit = 20;
  r.devices = std::vector<CgroupDeviceRule>{{.allow = false, .type = 'a'}};
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kMade).ok());
  EXPECT_THAT(TakeWrittenFiles(),
              ElementsAre("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "pids.max", "devices.deny"));
  // memsw's current value, to keep it at or above the memory limit while lowering: the one read.
  EXPECT_THAT(kernel_->reads, ElementsAre(Dir("memory", "c1") + "/memory.memsw.limit_in_bytes"));
  EXPECT_EQ(Value("memory", "c1", "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(Value("pids", "c1", "pids.max"), "20");
  EXPECT_EQ(Value("cpu", "c1", "cpu.shares"), "1024");
}

TEST_F(CgroupV1Test, ApplyKeepsMemswAtOrAboveTheMemoryLimitWithSwapBothWays) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  std::string mem = Dir("memory", "c1") + "/memory.limit_in_bytes";
  std::string memsw = Dir("memory", "c1") + "/memory.memsw.limit_in_bytes";
  auto apply = [&](int64_t limit, int64_t swap) {
    kernel_->writes.clear();
    CgroupResources r;
    r.memory_limit_bytes = limit;
    r.memory_swap_bytes = swap;
    absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
    EXPECT_TRUE(st.ok()) << st;
    std::vector<std::string> files;
    for (const auto& [file, data] : kernel_->writes) {
      if (file == mem || file == memsw) files.push_back(FileName(file));
    }
    return files;
  };
  // The fake refuses (EINVAL) any moment with memsw below the limit, as the kernel does.
  EXPECT_THAT(apply(64 * kMiB, 128 * kMiB),  // memsw lowered from unlimited: memory first
              ElementsAre("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"));
  EXPECT_THAT(apply(64 * kMiB, 512 * kMiB),  // memsw raised: memsw first
              ElementsAre("memory.memsw.limit_in_bytes", "memory.limit_in_bytes"));
  EXPECT_THAT(apply(256 * kMiB, 256 * kMiB),  // memsw lowered, the limit raised past it
              ElementsAre("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"));
  EXPECT_EQ(kernel_->Value(mem), "268435456");
  EXPECT_EQ(kernel_->Value(memsw), "268435456");
  EXPECT_THAT(apply(32 * kMiB, -1),  // unlimited swap: memsw raised
              ElementsAre("memory.memsw.limit_in_bytes", "memory.limit_in_bytes"));
  EXPECT_EQ(kernel_->Value(mem), "33554432");
  EXPECT_EQ(kernel_->Value(memsw), absl::StrCat(FakeCgroupKernel::kUnlimited));
}

TEST_F(CgroupV1Test, ApplyRefusesASwapLimitBelowOrWithoutTheMemoryLimitAndWritesNothing) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  kernel_->writes.clear();
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.memory_swap_bytes = 32 * kMiB;
  r.pids_limit = 5;
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("below the memory limit"));
  r.memory_limit_bytes.reset();
  st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("needs a memory limit"));
  EXPECT_THAT(kernel_->writes, ::testing::IsEmpty());
}

TEST_F(CgroupV1Test, ApplyWithoutSwapAccountingRefusesOnlyARequestForSwap) {
  kernel_->has_memsw = false;
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.memory_swap_bytes = 64 * kMiB;  // no swap: what the driver does anyway
  EXPECT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  r.memory_swap_bytes = -1;
  EXPECT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  r.memory_swap_bytes = 128 * kMiB;
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("memory.memsw.limit_in_bytes is missing"));
}

TEST_F(CgroupV1Test, ApplyToleratesAKernelThatNoLongerTakesKmemLimits) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  AddKernelFiles("c1");
  for (int err : {EOPNOTSUPP, 524 /* the kernel's ENOTSUPP */, EINVAL}) {
    hooked_->hook = [err](const std::string& file,
                          absl::string_view) -> std::optional<absl::Status> {
      if (!absl::StrContains(file, "memory.kmem.")) return std::nullopt;
      return ErrnoStatus(err, absl::StrCat("write ", file));
    };
    absl::Status st = driver_->Apply("c1", EveryExtra(), CgroupOrigin::kFound);
    EXPECT_TRUE(st.ok()) << err << ": " << st;
    EXPECT_EQ(Value("memory", "c1", "memory.swappiness"), "10");  // what comes after still does
    ASSERT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());
  }
  // Any other failure still fails.
  hooked_->hook = [](const std::string& file, absl::string_view) -> std::optional<absl::Status> {
    if (!absl::StrContains(file, "memory.kmem.")) return std::nullopt;
    return ErrnoStatus(EPERM, absl::StrCat("write ", file));
  };
  EXPECT_TRUE(absl::IsPermissionDenied(driver_->Apply("c1", EveryExtra(), CgroupOrigin::kFound)));
}

TEST_F(CgroupV1Test, ApplyPutsTheRealtimeRuntimeFirstWhenThePeriodFirstIsRefused) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  AddKernelFiles("c1");
  std::string runtime_file = Dir("cpu", "c1") + "/cpu.rt_runtime_us";
  // The kernel refuses a period shorter than the runtime already set.
  hooked_->hook = [&](const std::string& file,
                      absl::string_view data) -> std::optional<absl::Status> {
    int64_t period = 0, runtime = 0;
    if (FileName(file) == "cpu.rt_period_us" && absl::SimpleAtoi(data, &period) &&
        absl::SimpleAtoi(kernel_->Value(runtime_file), &runtime) && runtime > period) {
      return ErrnoStatus(EINVAL, absl::StrCat("write ", file));
    }
    return std::nullopt;
  };
  CgroupResources r;
  r.cpu_rt_period_us = 1000000;
  r.cpu_rt_runtime_us = 900000;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  kernel_->writes.clear();
  r.cpu_rt_period_us = 500000;
  r.cpu_rt_runtime_us = 400000;
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  ASSERT_TRUE(st.ok()) << st;
  std::vector<std::string> files = TakeWrittenFiles();
  std::erase_if(files, [](const std::string& f) { return !absl::StartsWith(f, "cpu.rt_"); });
  EXPECT_THAT(files, ElementsAre("cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.rt_period_us"));
  EXPECT_EQ(Value("cpu", "c1", "cpu.rt_period_us"), "500000");
  EXPECT_EQ(Value("cpu", "c1", "cpu.rt_runtime_us"), "400000");
}

TEST_F(CgroupV1Test, ApplyOfExtrasTheKernelOrHostLacksFailsNamingThem) {
  MakeDriver({"memory", "cpu"});
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.cpuset_mems = "0";
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("cpuset"));
  r = CgroupResources{};
  r.cpu_rt_runtime_us = 1000;  // the fake's cpu hierarchy has no realtime files
  st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("cpu.rt_period_us is missing"));
  r = CgroupResources{};
  r.memory_swappiness = 0;  // nor memory.swappiness
  st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("memory.swappiness is missing"));
  // Unasked, the missing files are fine.
  EXPECT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());
}

CgroupDeviceRule Allow(char type, int64_t major, int64_t minor, std::string access = "rwm") {
  return {true, type, major, minor, std::move(access)};
}
CgroupDeviceRule Deny(char type, int64_t major, int64_t minor, std::string access = "rwm") {
  return {false, type, major, minor, std::move(access)};
}

class CgroupV1DevicesTest : public CgroupV1Test {
 protected:
  // Applies `rules` to c1 and returns the devices.allow/devices.deny writes it made, as
  // "allow LINE" / "deny LINE", in order.
  absl::StatusOr<std::vector<std::string>> ApplyDevices(std::vector<CgroupDeviceRule> rules) {
    CgroupResources r;
    r.devices = std::move(rules);
    kernel_->writes.clear();
    absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
    if (!st.ok()) return st;
    return DeviceWrites();
  }
  std::vector<std::string> DeviceWrites() {
    std::vector<std::string> out;
    std::string dir = Dir("devices", "c1");
    for (const auto& [file, data] : kernel_->writes) {
      if (file == dir + "/devices.allow") out.push_back("allow " + data);
      if (file == dir + "/devices.deny") out.push_back("deny " + data);
    }
    return out;
  }
};

TEST_F(CgroupV1DevicesTest, ApplyResetsToDenyAllThenWritesEachRuleInOrder) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  absl::StatusOr<std::vector<std::string>> writes =
      ApplyDevices({Deny('a', -1, -1), Allow('c', 1, 3), Allow('c', 1, 5, "rw"),
                    Allow('c', 136, -1, "wr"), Allow('b', -1, -1, "m"), Deny('c', 1, 5, "w")});
  ASSERT_TRUE(writes.ok()) << writes.status();
  // The leading deny-all is the reset itself; access is written in the kernel's rwm order.
  EXPECT_THAT(*writes, ElementsAre("deny a", "allow c 1:3 rwm", "allow c 1:5 rw",
                                   "allow c 136:* rw", "allow b *:* m", "deny c 1:5 w"));
}

TEST_F(CgroupV1DevicesTest, AListNotStartingWithAWildcardStillStartsFromDenyAll) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  EXPECT_THAT(*ApplyDevices({Allow('c', 1, 3, "r")}), ElementsAre("deny a", "allow c 1:3 r"));
  EXPECT_THAT(*ApplyDevices({}), ElementsAre("deny a"));  // no rule: nothing matches
}

TEST_F(CgroupV1DevicesTest, AListStartingWithAllowAllStartsFromAllowAll) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  absl::StatusOr<std::vector<std::string>> writes =
      ApplyDevices({Allow('a', -1, -1, "mwr"), Deny('c', 1, 7, "w"), Deny('b', -1, -1)});
  ASSERT_TRUE(writes.ok()) << writes.status();
  EXPECT_THAT(*writes, ElementsAre("allow a", "deny c 1:7 w", "deny b *:* rwm"));
}

TEST_F(CgroupV1DevicesTest, AWildcardRuleLaterInTheListResetsAgain) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  absl::StatusOr<std::vector<std::string>> writes = ApplyDevices(
      {Allow('c', 1, 3), Allow('a', -1, -1), Deny('c', 1, 7), Deny('a', -1, -1), Allow('c', 1, 5)});
  ASSERT_TRUE(writes.ok()) << writes.status();
  EXPECT_THAT(*writes, ElementsAre("deny a", "allow c 1:3 rwm", "allow a *:* rwm", "deny c 1:7 rwm",
                                   "deny a *:* rwm", "allow c 1:5 rwm"));
}

// The kernel reads any line that starts with "a" as "every device, every access".
TEST_F(CgroupV1DevicesTest, ANarrowerTypeARuleIsWrittenAsItsCharAndBlockHalves) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  absl::StatusOr<std::vector<std::string>> writes =
      ApplyDevices({Deny('a', -1, -1), Allow('a', 1, 3, "rw"), Allow('a', -1, -1, "m")});
  ASSERT_TRUE(writes.ok()) << writes.status();
  EXPECT_THAT(*writes, ElementsAre("deny a", "allow c 1:3 rw", "allow b 1:3 rw", "allow c *:* m",
                                   "allow b *:* m"));
}

TEST_F(CgroupV1DevicesTest, ADenyTheKernelCouldNotEnforceIsRefused) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  // v1 would keep "c *:* rwm" and so leave c 1:3 open.
  absl::StatusOr<std::vector<std::string>> writes =
      ApplyDevices({Deny('a', -1, -1), Allow('c', -1, -1), Deny('c', 1, 3)});
  EXPECT_TRUE(absl::IsInvalidArgument(writes.status())) << writes.status();
  EXPECT_THAT(std::string(writes.status().message()), HasSubstr("device rule 2"));
  EXPECT_THAT(std::string(writes.status().message()), HasSubstr("cgroup v1"));
  EXPECT_THAT(DeviceWrites(), ::testing::IsEmpty());
  // Likewise an allow that would not lift an earlier wildcard deny.
  writes = ApplyDevices({Allow('a', -1, -1), Deny('c', 1, -1), Allow('c', 1, 3)});
  EXPECT_TRUE(absl::IsInvalidArgument(writes.status())) << writes.status();
  // Naming the same devices is fine: the kernel then takes the access bits away.
  writes = ApplyDevices({Deny('a', -1, -1), Allow('c', 1, 3), Deny('c', 1, 3, "w")});
  ASSERT_TRUE(writes.ok()) << writes.status();
  EXPECT_THAT(*writes, ElementsAre("deny a", "allow c 1:3 rwm", "deny c 1:3 w"));
  // So is a deny that overlaps nothing allowed.
  writes = ApplyDevices({Deny('a', -1, -1), Allow('c', 1, 3), Deny('b', -1, -1)});
  ASSERT_TRUE(writes.ok()) << writes.status();
}

TEST_F(CgroupV1DevicesTest, InvalidRulesAreRefusedBeforeAnythingIsWritten) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  for (const CgroupDeviceRule& bad :
       {Allow('x', 1, 3), Allow('c', 1, 3, ""), Allow('c', 1, 3, "rwx"), Allow('c', -2, 3),
        Allow('c', 1, int64_t{1} << 32)}) {
    r.devices = {Deny('a', -1, -1), bad};
    kernel_->writes.clear();
    absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr("device rule 1"));
    EXPECT_THAT(kernel_->writes, ::testing::IsEmpty());
  }
}

TEST_F(CgroupV1DevicesTest, UnsetDevicesLeavesTheDeviceCgroupAlone) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.pids_limit = 5;
  kernel_->writes.clear();
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_THAT(DeviceWrites(), ::testing::IsEmpty());
  EXPECT_FALSE(kernel_->writes.empty());
}

TEST_F(CgroupV1DevicesTest, DevicesWithoutADevicesHierarchyFailAndWriteNothing) {
  MakeDriver({"memory", "cpu", "pids"});
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.devices = std::vector<CgroupDeviceRule>{Allow('c', 1, 3)};
  kernel_->writes.clear();
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("devices"));
  EXPECT_THAT(kernel_->writes, ::testing::IsEmpty());
  r.devices.reset();  // without device rules the same host is fine
  EXPECT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
}

TEST_F(CgroupV1Test, AddProcessJoinsEveryHierarchy) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4242).ok());
  for (const char* c : kControllers) EXPECT_EQ(Value(c, "c1", "cgroup.procs"), "4242") << c;
  EXPECT_THAT(*driver_->Processes("c1"), ElementsAre(4242));
}

// A process moves itself through each hierarchy's `tasks` (one thread: the one move the
// kernel makes without its global lock), not cgroup.procs.
TEST_F(CgroupV1Test, SelfJoinFilesAreTheTasksFileOfEveryHierarchy) {
  MakeDriver();
  absl::StatusOr<std::vector<std::string>> files = driver_->SelfJoinFiles("c1");
  ASSERT_TRUE(files.ok()) << files.status();
  std::vector<std::string> expected;
  for (const char* c : kControllers) expected.push_back(Dir(c, "c1") + "/tasks");
  EXPECT_THAT(*files, ::testing::UnorderedElementsAreArray(expected));
  EXPECT_TRUE(absl::IsInvalidArgument(driver_->SelfJoinFiles("../c1").status()));
}

// A container without a cgroup (an empty cgroupsPath) opens nothing and joins nothing.
TEST_F(CgroupV1Test, SelfJoinOfNoCgroupIsANoOp) {
  MakeDriver();
  absl::StatusOr<CgroupSelfJoin> join = CgroupSelfJoin::Open(*driver_, "");
  ASSERT_TRUE(join.ok()) << join.status();
  EXPECT_TRUE(join->Join().ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CgroupSelfJoin::Open(*driver_, "../c1").status()));
}

TEST_F(CgroupV1Test, ProcessesIncludesSubCgroupsAndProcessesInSomeHierarchiesOnly) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(kernel_->MakeDir(Dir("pids", "c1/inner")).ok());
  kernel_->SetProcs(Dir("pids", "c1/inner"), {7});
  kernel_->SetProcs(Dir("memory", "c1"), {5});
  EXPECT_THAT(*driver_->Processes("c1"), ElementsAre(5, 7));
}

TEST_F(CgroupV1Test, FreezeWaitsForFrozenAndThawThaws) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->Freeze("c1").ok());
  EXPECT_EQ(Value("freezer", "c1", "freezer.state"), "FROZEN");
  ASSERT_TRUE(driver_->Thaw("c1").ok());
  EXPECT_EQ(Value("freezer", "c1", "freezer.state"), "THAWED");
}

TEST_F(CgroupV1Test, FreezeThatNeverCompletesTimesOutAndThaws) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  kernel_->freeze_gets_stuck = true;
  absl::Time start = kernel_->now;
  absl::Status st = driver_->Freeze("c1");
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_GE(kernel_->now - start, absl::Seconds(2));
  EXPECT_LT(kernel_->now - start, absl::Seconds(3));
  EXPECT_EQ(Value("freezer", "c1", "freezer.state"), "THAWED");
}

TEST_F(CgroupV1Test, FreezeWithoutFreezerHierarchyFails) {
  MakeDriver({"memory", "cpu", "pids"});
  ASSERT_TRUE(driver_->Create("c1").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(driver_->Freeze("c1")));
}

TEST_F(CgroupV1Test, StatsReadsUsagePidsAndOomKills) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(kernel_->Write(Dir("memory", "c1") + "/memory.usage_in_bytes", "123456").ok());
  ASSERT_TRUE(kernel_->Write(Dir("pids", "c1") + "/pids.current", "3").ok());
  ASSERT_TRUE(kernel_
                  ->Write(Dir("memory", "c1") + "/memory.oom_control",
                          "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
                  .ok());
  absl::StatusOr<CgroupStats> stats = driver_->Stats("c1");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->memory_usage_bytes, 123456u);
  EXPECT_EQ(stats->pids_current, 3u);
  EXPECT_EQ(stats->oom_kills, 2u);
  EXPECT_TRUE(absl::IsNotFound(driver_->Stats("missing").status()));
  // The count alone, as a container's end reads it.
  absl::StatusOr<uint64_t> kills = driver_->OomKills("c1");
  ASSERT_TRUE(kills.ok()) << kills.status();
  EXPECT_EQ(*kills, 2u);
  EXPECT_TRUE(absl::IsNotFound(driver_->OomKills("missing").status()));
}

TEST_F(CgroupV1Test, OomKillsAreZeroWithoutAMemoryHierarchy) {
  MakeDriver({"cpu", "pids"});
  ASSERT_TRUE(driver_->Create("c1").ok());
  absl::StatusOr<uint64_t> kills = driver_->OomKills("c1");
  ASSERT_TRUE(kills.ok()) << kills.status();
  EXPECT_EQ(*kills, 0u);
}

TEST_F(CgroupV1Test, StatsReadsCpuMemoryPidsAndBlkioFromEachHierarchy) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  auto put = [&](const char* controller, const std::string& file, const std::string& text) {
    ASSERT_TRUE(kernel_->Write(Dir(controller, "c1") + "/" + file, text).ok()) << file;
  };
  put("cpuacct", "cpuacct.usage", "3000000000\n");
  put("cpuacct", "cpuacct.stat", "user 200\nsystem 50\n");
  put("cpu", "cpu.stat", "nr_periods 12\nnr_throttled 3\nthrottled_time 4500\n");
  put("memory", "memory.usage_in_bytes", "20000000\n");
  put("memory", "memory.limit_in_bytes", "33554432\n");
  put("memory", "memory.failcnt", "6\n");
  put("memory", "memory.stat",
      "cache 1\nrss 2\ninactive_file 3\ntotal_cache 8000000\ntotal_rss 9000000\ntotal_inactive_file 5000000\n");
  put("pids", "pids.current", "4\n");
  put("pids", "pids.max", "max\n");
  put("blkio", "blkio.throttle.io_service_bytes_recursive",
      "8:0 Read 4096\n8:0 Write 12288\n8:0 Sync 0\n8:0 Total 16384\n8:16 Read 1\nTotal 16385\n");
  put("blkio", "blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 3\n8:0 Total 4\nTotal 4\n");
  absl::StatusOr<CgroupStats> s = driver_->Stats("c1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cpu_usage_ns, 3'000'000'000u);
  const uint64_t tick = 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  EXPECT_EQ(s->cpu_user_ns, 200 * tick);
  EXPECT_EQ(s->cpu_system_ns, 50 * tick);
  EXPECT_EQ(s->cpu_periods, 12u);
  EXPECT_EQ(s->cpu_throttled_periods, 3u);
  EXPECT_EQ(s->cpu_throttled_ns, 4500u);
  EXPECT_EQ(s->memory_usage_bytes, 20000000u);
  EXPECT_EQ(s->memory_limit_bytes, 33554432u);
  EXPECT_EQ(s->memory_failcnt, 6u);
  EXPECT_EQ(s->memory_rss_bytes, 9000000u) << "total_* (the subtree) wins";
  EXPECT_EQ(s->memory_cache_bytes, 8000000u);
  EXPECT_EQ(s->memory_working_set_bytes(), 15000000u);
  EXPECT_EQ(s->pids_current, 4u);
  EXPECT_EQ(s->pids_limit, 0u);
  EXPECT_EQ(s->io_read_bytes, 4097u);
  EXPECT_EQ(s->io_write_bytes, 12288u);
  EXPECT_EQ(s->io_read_ops, 1u);
  EXPECT_EQ(s->io_write_ops, 3u);
  // An unlimited memory cgroup shows the kernel's huge number: no limit.
  put("memory", "memory.limit_in_bytes", std::to_string(FakeCgroupKernel::kUnlimited) + "\n");
  EXPECT_EQ(driver_->Stats("c1")->memory_limit_bytes, 0u);
}

TEST_F(CgroupV1Test, DestroyThawsKillsEveryProcessAndRemovesTheTree) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4242).ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4343).ok());
  ASSERT_TRUE(kernel_->MakeDir(Dir("memory", "c1/inner")).ok());  // made by the container
  kernel_->SetProcs(Dir("memory", "c1/inner"), {4444});
  ASSERT_TRUE(driver_->Freeze("c1").ok());
  kernel_->writes.clear();
  ASSERT_TRUE(driver_->Destroy("c1").ok());
  ASSERT_FALSE(kernel_->writes.empty());
  EXPECT_EQ(kernel_->writes.front(),
            std::make_pair(Dir("freezer", "c1") + "/freezer.state", std::string("THAWED")));
  EXPECT_THAT(kernel_->kills, Contains(Pair(4242, SIGKILL)));
  EXPECT_THAT(kernel_->kills, Contains(Pair(4343, SIGKILL)));
  EXPECT_THAT(kernel_->kills, Contains(Pair(4444, SIGKILL)));
  for (const char* c : kControllers) EXPECT_FALSE(Exists(Dir(c, "c1"))) << c;
  EXPECT_TRUE(Exists(Mount("memory") + "/process_api/own"));
}

TEST_F(CgroupV1Test, RemoveEmptyKillsNothingAndLeavesABusyCgroup) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("pod/c1").ok());
  ASSERT_TRUE(driver_->AddProcess("pod/c1", 4242).ok());
  absl::Status busy = driver_->RemoveEmpty("pod");  // holds c1
  EXPECT_FALSE(busy.ok());
  busy = driver_->RemoveEmpty("pod/c1");  // holds a process
  EXPECT_FALSE(busy.ok());
  EXPECT_TRUE(kernel_->kills.empty());
  for (const char* c : kControllers) EXPECT_TRUE(Exists(Dir(c, "pod/c1"))) << c;
  for (const char* c : kControllers) kernel_->SetProcs(Dir(c, "pod/c1"), {});
  EXPECT_TRUE(driver_->RemoveEmpty("pod/c1").ok());
  EXPECT_TRUE(driver_->RemoveEmpty("pod").ok());
  for (const char* c : kControllers) EXPECT_FALSE(Exists(Dir(c, "pod"))) << c;
  EXPECT_TRUE(driver_->RemoveEmpty("pod").ok()) << "already gone is fine";
}

TEST_F(CgroupV1Test, DestroyOfAMissingCgroupSucceeds) {
  MakeDriver();
  EXPECT_TRUE(driver_->Destroy("never-created").ok());
}

TEST_F(CgroupV1Test, DestroyGivesUpOnAnUnkillableProcessAndCanBeRetried) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4242).ok());
  kernel_->unkillable.insert(4242);
  absl::Status st = driver_->Destroy("c1");
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("4242"));
  EXPECT_TRUE(Exists(Dir("memory", "c1")));
  kernel_->unkillable.clear();
  EXPECT_TRUE(driver_->Destroy("c1").ok());
  EXPECT_FALSE(Exists(Dir("memory", "c1")));
}

TEST_F(CgroupV1Test, DestroyRemovesOnlyTheLeafAndAParentCanBeDestroyedAfter) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("berth/a").ok());
  ASSERT_TRUE(driver_->Destroy("berth/a").ok());
  EXPECT_TRUE(Exists(Dir("memory", "berth")));
  EXPECT_FALSE(Exists(Dir("memory", "berth/a")));
  ASSERT_TRUE(driver_->Destroy("berth").ok());
  for (const char* c : kControllers) EXPECT_FALSE(Exists(Dir(c, "berth"))) << c;
}

}  // namespace
}  // namespace berth
