// CgroupDriverV2 against FakeCgroupKernel: a unified hierarchy whose root delegated
// controllers to our own (process-free) cgroup, as a systemd Delegate=yes unit would have.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/device_filter.h"
#include "runtime/cgroup/fake_cgroup_kernel.h"

namespace berth {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

constexpr int64_t kMiB = 1024 * 1024;

class CgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-cgroup-v2-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    mount_ = root_ + "/unified";
    kernel_ = std::make_shared<FakeCgroupKernel>();
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Our own cgroup is /agent; the root hands it `delegated`.
  void MakeDriver(const std::string& delegated = "+cpu +cpuset +io +memory +pids +hugetlb") {
    kernel_->AddV2Hierarchy(mount_, {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma"});
    ASSERT_TRUE(kernel_->Write(mount_ + "/cgroup.subtree_control", delegated).ok());
    kernel_->MakeCgroups(own());
    driver_ = MakeCgroupDriverV2(CgroupMountV2{mount_, "/agent", {}}, kernel_);
  }

  std::string own() const { return mount_ + "/agent"; }
  std::string Dir(const std::string& path) const { return own() + "/" + path; }
  std::string Value(const std::string& path, const std::string& file) {
    return kernel_->Value(Dir(path) + "/" + file);
  }
  bool Exists(const std::string& p) { return std::filesystem::exists(p); }

  std::string root_, mount_;
  std::shared_ptr<FakeCgroupKernel> kernel_;
  std::unique_ptr<CgroupDriver> driver_;
};

TEST_F(CgroupV2Test, CreateDelegatesOurControllersAtEveryLevelItPasses) {
  MakeDriver();
  EXPECT_EQ(driver_->Name(), "v2");
  ASSERT_TRUE(driver_->Create("berth/abc").ok());
  // hugetlb is offered but not ours to hand down.
  EXPECT_EQ(kernel_->Value(own() + "/cgroup.subtree_control"), "cpu cpuset io memory pids");
  EXPECT_EQ(Value("berth", "cgroup.subtree_control"), "cpu cpuset io memory pids");
  EXPECT_EQ(Value("berth/abc", "cgroup.subtree_control"), "");  // the leaf holds processes
  EXPECT_EQ(Value("berth/abc", "memory.max"), "max");
  EXPECT_EQ(Value("berth/abc", "pids.max"), "max");
  EXPECT_EQ(Value("berth/abc", "cpu.max"), "max 100000");
  EXPECT_TRUE(driver_->Create("berth/abc").ok());  // exists: reused
}

TEST_F(CgroupV2Test, CreateEnablesOnlyControllersTheParentOffers) {
  MakeDriver("+memory +pids");
  ASSERT_TRUE(driver_->Create("c1").ok());
  EXPECT_EQ(kernel_->Value(own() + "/cgroup.subtree_control"), "memory pids");
  EXPECT_EQ(Value("c1", "cgroup.controllers"), "memory pids");
  EXPECT_EQ(Value("c1", "cpu.max"), "<missing>");
}

TEST_F(CgroupV2Test, CreateUnderACgroupHoldingProcessesExplainsAndLeavesNothing) {
  MakeDriver();
  kernel_->SetProcs(own(), {4242});
  absl::Status st = driver_->Create("c1").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("holds processes"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("cgroup.subtree_control"));
  EXPECT_FALSE(Exists(Dir("c1")));
}

TEST_F(CgroupV2Test, CreateFailingBelowAnExistingParentLeavesTheParentAlone) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("berth").ok());
  kernel_->SetProcs(Dir("berth"), {7});  // berth can no longer hand controllers down
  absl::Status st = driver_->Create("berth/x").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_FALSE(Exists(Dir("berth/x")));
  EXPECT_TRUE(Exists(Dir("berth")));  // it existed before this call: not ours to undo
}

TEST_F(CgroupV2Test, RejectsPathsThatEscapeOrNameTheRoot) {
  MakeDriver();
  for (const char* bad : {"", "..", "a/../b", "/..", "/"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Create(bad).status())) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Destroy(bad))) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Freeze(bad))) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(driver_->Stats(bad).status())) << bad;
  }
}

TEST_F(CgroupV2Test, DirectoryIgnoresTheController) {
  MakeDriver();
  EXPECT_EQ(*driver_->Directory("a/b", "memory"), own() + "/a/b");
  EXPECT_EQ(*driver_->Directory("a/b", "anything"), own() + "/a/b");
  EXPECT_EQ(*driver_->Directory("/abs", "pids"), mount_ + "/abs");
}

TEST_F(CgroupV2Test, ApplyWritesEveryLimitAndNoSwapForALimitedContainer) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.cpu_quota_us = 50000;
  r.cpu_period_us = 100000;
  r.cpu_shares = 1024;
  r.pids_limit = 20;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("c1", "memory.max"), "67108864");
  EXPECT_EQ(Value("c1", "memory.swap.max"), "0");
  EXPECT_EQ(Value("c1", "cpu.max"), "50000 100000");
  EXPECT_EQ(Value("c1", "cpu.weight"), "39");
  EXPECT_EQ(Value("c1", "pids.max"), "20");
}

TEST_F(CgroupV2Test, ApplyOfUnsetFieldsRestoresKernelDefaults) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.cpu_quota_us = 20000;
  r.cpu_period_us = 50000;
  r.cpu_shares = 4096;
  r.pids_limit = 5;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("c1", "cpu.max"), "20000 50000");
  ASSERT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("c1", "memory.max"), "max");
  EXPECT_EQ(Value("c1", "memory.swap.max"), "max");
  EXPECT_EQ(Value("c1", "cpu.max"), "max 100000");
  EXPECT_EQ(Value("c1", "cpu.weight"), "100");
  EXPECT_EQ(Value("c1", "pids.max"), "max");
}

TEST_F(CgroupV2Test, ApplyToACgroupJustMadeTouchesOnlyWhatIsAsked) {
  MakeDriver();
  absl::StatusOr<CgroupOrigin> origin = driver_->Create("berth/c1");
  ASSERT_TRUE(origin.ok()) << origin.status();
  EXPECT_EQ(*origin, CgroupOrigin::kMade);
  EXPECT_EQ(*driver_->Create("berth/c1"), CgroupOrigin::kFound);
  kernel_->writes.clear();
  kernel_->reads.clear();
  ASSERT_TRUE(driver_->Apply("berth/c1", CgroupResources{}, CgroupOrigin::kMade).ok());
  EXPECT_THAT(kernel_->writes, IsEmpty());
  EXPECT_THAT(kernel_->reads, IsEmpty());
  CgroupResources r;
  r.pids_limit = 7;
  r.cpu_shares = 2048;
  ASSERT_TRUE(driver_->Apply("berth/c1", r, CgroupOrigin::kMade).ok());
  std::vector<std::string> written;
  for (const auto& [file, data] : kernel_->writes) written.push_back(std::filesystem::path(file).filename());
  EXPECT_THAT(written, ElementsAre("cpu.max", "cpu.weight", "pids.max"));
  EXPECT_EQ(Value("berth/c1", "pids.max"), "7");
  EXPECT_EQ(Value("berth/c1", "memory.max"), "max");
  // The same on a cgroup found there puts every unset limit back.
  kernel_->writes.clear();
  ASSERT_TRUE(driver_->Apply("berth/c1", r, CgroupOrigin::kFound).ok());
  written.clear();
  for (const auto& [file, data] : kernel_->writes) written.push_back(std::filesystem::path(file).filename());
  EXPECT_THAT(written, Contains("memory.max"));
}

TEST_F(CgroupV2Test, ApplyFailsOnlyForLimitsOfControllersNotEnabled) {
  MakeDriver("+memory +pids");
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.pids_limit = 3;
  EXPECT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  r.cpu_quota_us = 50000;
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("cpu.max"));
}

// memory.low, which FakeCgroupKernel does not make, with a new cgroup's value.
void AddMemoryLow(const std::string& dir) { std::ofstream(dir + "/memory.low") << "0\n"; }

TEST_F(CgroupV2Test, ApplyWritesCpusetSwapAsSwapAloneAndTheReservationAsMemoryLow) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  AddMemoryLow(Dir("c1"));
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.memory_swap_bytes = 192 * kMiB;  // memory + swap
  r.memory_reservation_bytes = 32 * kMiB;
  r.cpuset_cpus = std::string("0-1");
  r.cpuset_mems = std::string("0");
  r.disable_oom_killer = false;  // asks for nothing v2 lacks
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Value("c1", "memory.max"), "67108864");
  EXPECT_EQ(Value("c1", "memory.swap.max"), "134217728");
  EXPECT_EQ(Value("c1", "memory.low"), "33554432");
  EXPECT_EQ(Value("c1", "cpuset.cpus"), "0-1");
  EXPECT_EQ(Value("c1", "cpuset.mems"), "0");

  r.memory_swap_bytes = -1;  // unlimited swap
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("c1", "memory.swap.max"), "max");
  r.memory_swap_bytes = 64 * kMiB;  // memory + swap = memory: no swap
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("c1", "memory.swap.max"), "0");

  // Unset again: the parent's cpuset (empty lists), no reservation.
  ASSERT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("c1", "memory.low"), "0");
  EXPECT_EQ(Value("c1", "memory.swap.max"), "max");
  EXPECT_EQ(Value("c1", "cpuset.cpus"), "");
  EXPECT_EQ(Value("c1", "cpuset.mems"), "");
}

TEST_F(CgroupV2Test, ApplyLeavesTheCpusetOfANewCgroupUnwrittenWhenUnset) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  kernel_->writes.clear();
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.pids_limit = 5;
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  for (const auto& [file, data] : kernel_->writes) {
    EXPECT_THAT(file, ::testing::Not(HasSubstr("cpuset."))) << data;
  }
}

TEST_F(CgroupV2Test, ApplyRefusesASwapLimitBelowOrWithoutTheMemoryLimitAndWritesNothing) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  kernel_->writes.clear();
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.memory_swap_bytes = 32 * kMiB;
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("below the memory limit"));
  r.memory_limit_bytes.reset();
  st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("needs a memory limit"));
  EXPECT_THAT(kernel_->writes, IsEmpty());
}

TEST_F(CgroupV2Test, ApplyRefusesWhatV2CannotDoAndWritesNothing) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  struct Case {
    std::function<void(CgroupResources&)> set;
    const char* named;
  };
  const Case cases[] = {
      {[](CgroupResources& r) { r.cpu_rt_runtime_us = 10000; }, "cpu.realtimeRuntime"},
      {[](CgroupResources& r) { r.cpu_rt_period_us = 1000000; }, "cpu.realtimePeriod"},
      {[](CgroupResources& r) { r.memory_kernel_bytes = 16 * kMiB; }, "memory.kernel"},
      {[](CgroupResources& r) { r.memory_kernel_tcp_bytes = 16 * kMiB; }, "memory.kernelTCP"},
      {[](CgroupResources& r) { r.memory_swappiness = 0; }, "memory.swappiness"},
      {[](CgroupResources& r) { r.disable_oom_killer = true; }, "memory.disableOOMKiller"},
  };
  for (const Case& c : cases) {
    kernel_->writes.clear();
    CgroupResources r;
    r.memory_limit_bytes = 64 * kMiB;
    c.set(r);
    absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
    EXPECT_TRUE(absl::IsFailedPrecondition(st)) << c.named << ": " << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.named));
    EXPECT_THAT(std::string(st.message()), HasSubstr("cgroup v2"));
    EXPECT_THAT(kernel_->writes, IsEmpty()) << c.named;
  }
}

TEST_F(CgroupV2Test, ApplyOfACpusetOrSwapWithoutItsControllerOrFileFails) {
  MakeDriver("+memory +pids");
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.cpuset_cpus = std::string("0");
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("cpuset.cpus is missing"));
  EXPECT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());  // unasked: fine

  // Without swap accounting only a request for some swap fails.
  std::filesystem::remove(Dir("c1") + "/memory.swap.max");
  r = CgroupResources{};
  r.memory_limit_bytes = 64 * kMiB;
  r.memory_swap_bytes = 64 * kMiB;
  EXPECT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  r.memory_swap_bytes = 128 * kMiB;
  st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("memory.swap.max is missing"));
  r.memory_reservation_bytes = 1;  // nor memory.low (the fake has none)
  r.memory_swap_bytes.reset();
  st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("memory.low is missing"));
}

CgroupDeviceRule Allow(char type, int64_t major, int64_t minor, std::string access = "rwm") {
  return {true, type, major, minor, std::move(access)};
}
CgroupDeviceRule Deny(char type, int64_t major, int64_t minor, std::string access = "rwm") {
  return {false, type, major, minor, std::move(access)};
}

// The verdict of the program the fake recorded for `path`.
class CgroupV2DevicesTest : public CgroupV2Test {
 protected:
  bool Allowed(const std::string& path, char type, uint32_t major, uint32_t minor,
               const std::string& access) {
    auto it = kernel_->device_programs.find(Dir(path));
    EXPECT_NE(it, kernel_->device_programs.end()) << "no device program for " << path;
    if (it == kernel_->device_programs.end()) return false;
    absl::StatusOr<bool> allowed = EvaluateDeviceFilter(it->second, type, major, minor, access);
    EXPECT_TRUE(allowed.ok()) << allowed.status();
    return allowed.value_or(false);
  }
};

TEST_F(CgroupV2DevicesTest, ApplyAttachesAProgramThatFollowsTheRules) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.pids_limit = 10;
  r.devices =
      std::vector<CgroupDeviceRule>{Deny('a', -1, -1), Allow('c', 1, 3), Allow('c', 1, 5, "rw"),
                                    Allow('c', 136, -1, "rw"), Deny('c', 136, 2)};
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_EQ(Value("c1", "pids.max"), "10");
  EXPECT_TRUE(Allowed("c1", 'c', 1, 3, "rwm"));
  EXPECT_TRUE(Allowed("c1", 'c', 1, 5, "rw"));
  EXPECT_FALSE(Allowed("c1", 'c', 1, 5, "m"));    // partial access
  EXPECT_FALSE(Allowed("c1", 'c', 1, 7, "r"));    // not listed
  EXPECT_FALSE(Allowed("c1", 'b', 1, 3, "r"));    // wrong type
  EXPECT_TRUE(Allowed("c1", 'c', 136, 0, "w"));   // minor wildcard
  EXPECT_FALSE(Allowed("c1", 'c', 136, 2, "w"));  // a later deny wins

  // Applying again replaces the program.
  r.devices = std::vector<CgroupDeviceRule>{Allow('a', -1, -1), Deny('c', 1, 3, "w")};
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_THAT(kernel_->device_programs, SizeIs(1));
  EXPECT_TRUE(Allowed("c1", 'c', 1, 7, "rw"));
  EXPECT_TRUE(Allowed("c1", 'b', 8, 0, "m"));
  EXPECT_TRUE(Allowed("c1", 'c', 1, 3, "r"));
  EXPECT_TRUE(Allowed("c1", 'c', 1, 3, "rw"));  // "w" alone is what the deny names
  EXPECT_FALSE(Allowed("c1", 'c', 1, 3, "w"));

  // An empty list denies everything.
  r.devices = std::vector<CgroupDeviceRule>{};
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  EXPECT_FALSE(Allowed("c1", 'c', 1, 3, "r"));
}

TEST_F(CgroupV2DevicesTest, UnsetDevicesAttachesNothing) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->Apply("c1", CgroupResources{}, CgroupOrigin::kFound).ok());
  EXPECT_THAT(kernel_->device_programs, IsEmpty());
}

TEST_F(CgroupV2DevicesTest, DevicesNeedNoController) {
  MakeDriver("");
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.devices = std::vector<CgroupDeviceRule>{Allow('c', 1, 3)};
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_TRUE(Allowed("c1", 'c', 1, 3, "rw"));
}

TEST_F(CgroupV2DevicesTest, InvalidRulesAreRefusedBeforeAnythingIsWritten) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  CgroupResources r;
  r.memory_limit_bytes = 64 * kMiB;
  r.devices =
      std::vector<CgroupDeviceRule>{Deny('a', -1, -1), Allow('c', 1, 3), Allow('c', 1, 5, "rwx")};
  kernel_->writes.clear();
  absl::Status st = driver_->Apply("c1", r, CgroupOrigin::kFound);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("device rule 2"));
  EXPECT_THAT(kernel_->writes, IsEmpty());
  EXPECT_THAT(kernel_->device_programs, IsEmpty());
  EXPECT_EQ(Value("c1", "memory.max"), "max");
}

TEST_F(CgroupV2DevicesTest, ApplyToAMissingCgroupFailsAndDestroyDropsTheProgram) {
  MakeDriver();
  CgroupResources r;
  r.devices = std::vector<CgroupDeviceRule>{Allow('c', 1, 3)};
  EXPECT_TRUE(absl::IsNotFound(driver_->Apply("never-created", r, CgroupOrigin::kFound)));
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->Apply("c1", r, CgroupOrigin::kFound).ok());
  ASSERT_TRUE(driver_->Destroy("c1").ok());
  EXPECT_THAT(kernel_->device_programs, IsEmpty());
}

TEST(CpuSharesToWeightTest, MapsTheV1RangeOntoTheV2Range) {
  EXPECT_EQ(CpuSharesToWeight(2), 1u);
  EXPECT_EQ(CpuSharesToWeight(262144), 10000u);
  EXPECT_EQ(CpuSharesToWeight(1024), 39u);
  EXPECT_EQ(CpuSharesToWeight(512), 20u);
  EXPECT_EQ(CpuSharesToWeight(0), 1u);             // clamped up to 2
  EXPECT_EQ(CpuSharesToWeight(1u << 30), 10000u);  // clamped down to 262144
}

TEST_F(CgroupV2Test, FreezeWaitsForTheFrozenEventAndThawClears) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->Freeze("c1").ok());
  EXPECT_EQ(Value("c1", "cgroup.freeze"), "1");
  EXPECT_THAT(Value("c1", "cgroup.events"), HasSubstr("frozen 1"));
  ASSERT_TRUE(driver_->Thaw("c1").ok());
  EXPECT_EQ(Value("c1", "cgroup.freeze"), "0");
}

TEST_F(CgroupV2Test, FreezeThatNeverCompletesTimesOutAndThaws) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  kernel_->freeze_gets_stuck = true;
  absl::Status st = driver_->Freeze("c1");
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_EQ(Value("c1", "cgroup.freeze"), "0");
}

TEST_F(CgroupV2Test, StatsReadsUsagePidsAndOomKills) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(kernel_->Write(Dir("c1") + "/memory.current", "2048").ok());
  ASSERT_TRUE(kernel_->Write(Dir("c1") + "/pids.current", "2").ok());
  ASSERT_TRUE(
      kernel_->Write(Dir("c1") + "/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 3\n")
          .ok());
  absl::StatusOr<CgroupStats> stats = driver_->Stats("c1");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->memory_usage_bytes, 2048u);
  EXPECT_EQ(stats->pids_current, 2u);
  EXPECT_EQ(stats->oom_kills, 3u);
  EXPECT_EQ(stats->oom_events, 1u);
  EXPECT_EQ(stats->memory_failcnt, 4u);
  EXPECT_EQ(stats->memory_limit_bytes, 0u) << "memory.max \"max\" is no limit";
  EXPECT_TRUE(absl::IsNotFound(driver_->Stats("missing").status()));
  // The count alone, as a container's end reads it; none without the memory controller.
  absl::StatusOr<uint64_t> kills = driver_->OomKills("c1");
  ASSERT_TRUE(kills.ok()) << kills.status();
  EXPECT_EQ(*kills, 3u);
  EXPECT_TRUE(absl::IsNotFound(driver_->OomKills("missing").status()));
  ASSERT_TRUE(driver_->Create("c2").ok());
  std::filesystem::remove(Dir("c2") + "/memory.events");  // as where memory is not enabled
  kills = driver_->OomKills("c2");
  ASSERT_TRUE(kills.ok()) << kills.status();
  EXPECT_EQ(*kills, 0u);
}

TEST_F(CgroupV2Test, StatsReadsCpuMemoryPidsAndIoInTheirV2Files) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  const std::string d = Dir("c1");
  ASSERT_TRUE(kernel_->Write(d + "/cpu.stat",
                             "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 40\nnr_throttled 7\n"
                             "throttled_usec 2500\n")
                  .ok());
  ASSERT_TRUE(kernel_->Write(d + "/memory.current", "10485760").ok());
  ASSERT_TRUE(kernel_->Write(d + "/memory.max", "67108864").ok());
  ASSERT_TRUE(kernel_->Write(d + "/memory.stat", "anon 4096000\nfile 6000000\nkernel 1000\ninactive_file 2000000\n").ok());
  ASSERT_TRUE(kernel_->Write(d + "/memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n").ok());
  ASSERT_TRUE(kernel_->Write(d + "/pids.current", "5").ok());
  ASSERT_TRUE(kernel_->Write(d + "/pids.max", "100").ok());
  ASSERT_TRUE(kernel_->Write(d + "/io.stat",
                             "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                             "253:1 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n")
                  .ok());
  absl::StatusOr<CgroupStats> s = driver_->Stats("c1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cpu_usage_ns, 1'500'000u);
  EXPECT_EQ(s->cpu_user_ns, 1'000'000u);
  EXPECT_EQ(s->cpu_system_ns, 500'000u);
  EXPECT_EQ(s->cpu_periods, 40u);
  EXPECT_EQ(s->cpu_throttled_periods, 7u);
  EXPECT_EQ(s->cpu_throttled_ns, 2'500'000u);
  EXPECT_EQ(s->memory_usage_bytes, 10485760u);
  EXPECT_EQ(s->memory_limit_bytes, 67108864u);
  EXPECT_EQ(s->memory_rss_bytes, 4096000u);
  EXPECT_EQ(s->memory_cache_bytes, 6000000u);
  EXPECT_EQ(s->memory_working_set_bytes(), 10485760u - 2000000u);
  EXPECT_EQ(s->memory_failcnt, 9u);
  EXPECT_EQ(s->oom_events, 2u);
  EXPECT_EQ(s->oom_kills, 1u);
  EXPECT_EQ(s->pids_current, 5u);
  EXPECT_EQ(s->pids_limit, 100u);
  EXPECT_EQ(s->io_read_bytes, 4196u);
  EXPECT_EQ(s->io_write_bytes, 8392u);
  EXPECT_EQ(s->io_read_ops, 4u);
  EXPECT_EQ(s->io_write_ops, 6u);
}

TEST_F(CgroupV2Test, AddProcessAndProcessesSeeTheWholeSubtree) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4242).ok());
  EXPECT_EQ(Value("c1", "cgroup.procs"), "4242");
  ASSERT_TRUE(kernel_->MakeDir(Dir("c1/inner")).ok());
  kernel_->SetProcs(Dir("c1/inner"), {11});
  EXPECT_THAT(*driver_->Processes("c1"), ElementsAre(11, 4242));
}

TEST_F(CgroupV2Test, SelfJoinFileIsCgroupProcs) {
  MakeDriver();
  absl::StatusOr<std::vector<std::string>> files = driver_->SelfJoinFiles("c1");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(Dir("c1") + "/cgroup.procs"));
}

TEST_F(CgroupV2Test, DestroyUsesCgroupKillAndRemovesTheTree) {
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4242).ok());
  ASSERT_TRUE(kernel_->MakeDir(Dir("c1/inner")).ok());
  kernel_->SetProcs(Dir("c1/inner"), {11});
  ASSERT_TRUE(driver_->Freeze("c1").ok());
  ASSERT_TRUE(driver_->Destroy("c1").ok());
  EXPECT_THAT(kernel_->writes, Contains(Pair(Dir("c1") + "/cgroup.kill", "1")));
  EXPECT_THAT(kernel_->kills, Contains(Pair(4242, SIGKILL)));
  EXPECT_THAT(kernel_->kills, Contains(Pair(11, SIGKILL)));
  EXPECT_FALSE(Exists(Dir("c1")));
  EXPECT_TRUE(Exists(own()));
}

TEST_F(CgroupV2Test, DestroyWithoutCgroupKillSignalsEachProcess) {
  kernel_->has_cgroup_kill = false;
  MakeDriver();
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4242).ok());
  ASSERT_TRUE(driver_->Destroy("c1").ok());
  EXPECT_THAT(kernel_->kills, ElementsAre(Pair(4242, SIGKILL)));
  EXPECT_FALSE(Exists(Dir("c1")));
}

TEST_F(CgroupV2Test, DestroyOfAMissingCgroupSucceedsAndAnUnkillableOneTimesOut) {
  MakeDriver();
  EXPECT_TRUE(driver_->Destroy("never-created").ok());
  ASSERT_TRUE(driver_->Create("c1").ok());
  ASSERT_TRUE(driver_->AddProcess("c1", 4242).ok());
  kernel_->unkillable.insert(4242);
  absl::Status st = driver_->Destroy("c1");
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_TRUE(Exists(Dir("c1")));
  kernel_->unkillable.clear();
  EXPECT_TRUE(driver_->Destroy("c1").ok());
  EXPECT_THAT(*kernel_->ListSubdirs(own()), IsEmpty());
}

}  // namespace
}  // namespace berth
