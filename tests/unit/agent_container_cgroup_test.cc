// Where a container's cgroup goes with a cgroup_parent of its own (the kubelet's pod cgroups),
// and the removal of the directories between once they are empty: a v2 driver over the fake
// cgroupfs.
#include "agent/container_cgroup.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/cgroup/fake_cgroup_kernel.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;

TEST(CleanCgroupParent, TakesTheKubeletsLayoutsBelowTheAgent) {
  EXPECT_EQ(*CleanCgroupParent(""), "");
  EXPECT_EQ(*CleanCgroupParent("/kubepods/burstable/pod1a2b-3c"), "kubepods/burstable/pod1a2b-3c");
  EXPECT_EQ(*CleanCgroupParent("kubepods/besteffort/"), "kubepods/besteffort");
  EXPECT_EQ(*CleanCgroupParent("kubepods-burstable-pod1.slice"), "kubepods-burstable-pod1.slice");
  EXPECT_EQ(ContainerCgroupPath("berth", "kubepods/pod1", "abc"), "berth/kubepods/pod1/abc");
  EXPECT_EQ(ContainerCgroupPath("berth", "", "abc"), "berth/abc");
}

TEST(CleanCgroupParent, RefusesWhatCouldLeaveTheAgentsSubtree) {
  for (const std::string& bad : std::vector<std::string>{"../escape", "a/../../b", "a//b", "./a", "/", "a b", "a\nb",
                                                        std::string(600, 'x')}) {
    absl::StatusOr<std::string> clean = CleanCgroupParent(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(clean.status())) << bad;
    EXPECT_THAT(std::string(clean.status().message()), HasSubstr("cgroup_parent")) << bad;
  }
  // Another container's cgroup is no parent.
  absl::StatusOr<std::string> nested = CleanCgroupParent("kubepods/" + std::string(64, 'a'));
  EXPECT_TRUE(absl::IsInvalidArgument(nested.status()));
  EXPECT_THAT(std::string(nested.status().message()), HasSubstr("container id"));
  // The message quotes and caps what it echoes.
  EXPECT_LT(CleanCgroupParent(std::string(600, 'x')).status().message().size(), 400u);
}

class RemoveEmptyCgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-container-cgroup-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    kernel_ = std::make_shared<FakeCgroupKernel>();
    kernel_->AddV2Hierarchy(root_ + "/unified", {"cpu", "memory", "pids"});
    kernel_->MakeCgroups(root_ + "/unified/agent");
    driver_ = MakeCgroupDriverV2(CgroupMountV2{root_ + "/unified", "/agent", {}}, kernel_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  bool Exists(const std::string& path) const { return std::filesystem::exists(root_ + "/unified/agent/" + path); }

  std::string root_;
  std::shared_ptr<FakeCgroupKernel> kernel_;
  std::unique_ptr<CgroupDriver> driver_;
};

TEST_F(RemoveEmptyCgroupsTest, StopsAtTheFirstBusyParentAndNeverAtTheAgentsOwn) {
  ASSERT_TRUE(driver_->Create("berth/kubepods/pod1/c1").ok());
  ASSERT_TRUE(driver_->Create("berth/kubepods/pod1/c2").ok());
  ASSERT_TRUE(driver_->Create("berth/kubepods/pod2/c3").ok());
  ASSERT_TRUE(driver_->AddProcess("berth/kubepods/pod2/c3", 4242).ok());

  // c1 goes; pod1 still holds c2.
  RemoveEmptyCgroups(*driver_, "berth", "berth/kubepods/pod1/c1");
  EXPECT_FALSE(Exists("berth/kubepods/pod1/c1"));
  EXPECT_TRUE(Exists("berth/kubepods/pod1/c2"));
  // c2 goes and pod1 with it; kubepods still holds pod2.
  RemoveEmptyCgroups(*driver_, "berth", "berth/kubepods/pod1/c2");
  EXPECT_FALSE(Exists("berth/kubepods/pod1"));
  EXPECT_TRUE(Exists("berth/kubepods/pod2/c3"));
  // c3 has a process: nothing is removed, nothing killed.
  RemoveEmptyCgroups(*driver_, "berth", "berth/kubepods/pod2/c3");
  EXPECT_TRUE(Exists("berth/kubepods/pod2/c3"));
  EXPECT_TRUE(kernel_->kills.empty());
  kernel_->SetProcs(root_ + "/unified/agent/berth/kubepods/pod2/c3", {});
  RemoveEmptyCgroups(*driver_, "berth", "berth/kubepods/pod2/c3");
  EXPECT_FALSE(Exists("berth/kubepods"));
  EXPECT_TRUE(Exists("berth")) << "the agent's own parent stays";
}

}  // namespace
}  // namespace berth::agent
