// The mountinfo and /proc/self/cgroup parsers and the v1/v2 choice, on sample text: this
// host's hybrid layout, a combined "cpu,cpuacct" host, a pure v2 host, and a container.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/fake_cgroup_kernel.h"

namespace berth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// This host, as measured: cpu and cpuacct apart, cgroup2 with only hugetlb.
constexpr const char* kHybridMountinfo = R"(22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
)";
constexpr const char* kHybridCgroup = R"(9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/494b4b2c9adee0e29f6aa581f8ff1bbb
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
)";

// A Debian 10 style systemd host: cpu and cpuacct co-mounted, optional fields present.
constexpr const char* kCombinedMountinfo =
    R"(25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
33 25 0:30 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,net_cls,net_prio
)";
constexpr const char* kCombinedCgroup = R"(6:net_cls,net_prio:/
5:pids:/user.slice/user-1000.slice/session-2.scope
4:memory:/user.slice/user-1000.slice/session-2.scope
3:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/user-1000.slice/session-2.scope
0::/user.slice/user-1000.slice/session-2.scope
)";

constexpr const char* kPureV2Mountinfo =
    R"(24 18 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
)";
constexpr const char* kPureV2Cgroup = "0::/system.slice/berthd.service/agent\n";

TEST(ParseCgroupV1MountsTest, ThisHostsHybridLayout) {
  std::vector<CgroupMountV1> m = ParseCgroupV1Mounts(kHybridMountinfo, kHybridCgroup);
  ASSERT_EQ(m.size(), 9u);
  EXPECT_THAT(m[0].controllers, ElementsAre("name=systemd"));
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/systemd");
  EXPECT_THAT(m[5].controllers, ElementsAre("memory"));
  EXPECT_EQ(m[5].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m[5].own_path, "/process_api/494b4b2c9adee0e29f6aa581f8ff1bbb");
  EXPECT_THAT(m[7].controllers, ElementsAre("cpuacct"));
  EXPECT_EQ(m[7].mount_point, "/sys/fs/cgroup/cpuacct");
  EXPECT_THAT(m[8].controllers, ElementsAre("cpu"));
  EXPECT_EQ(m[8].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(m[8].own_path, "/");
}

TEST(ParseCgroupV1MountsTest, CombinedCpuCpuacct) {
  std::vector<CgroupMountV1> m = ParseCgroupV1Mounts(kCombinedMountinfo, kCombinedCgroup);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_THAT(m[0].controllers, ElementsAre("net_cls", "net_prio"));
  EXPECT_THAT(m[3].controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ(m[3].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m[3].own_path, "/user.slice");
  EXPECT_EQ(m[4].mount_point, "/sys/fs/cgroup/systemd");  // "xattr" beside name=systemd
}

TEST(ParseCgroupV1MountsTest, ContainerMountsShowOnlyOurSubtree) {
  // Inside a container without a cgroup namespace: the mount's root is our cgroup, and a
  // second mount of another subtree must be passed over.
  const char* mountinfo =
      R"(100 90 0:40 /other /mnt/other rw - cgroup cgroup rw,memory
101 90 0:40 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
102 90 0:41 /docker/abc /sys/fs/cgroup/my\040pids rw - cgroup cgroup rw,pids
)";
  const char* cgroup = "4:memory:/docker/abc\n3:pids:/docker/abc/sub\n";
  std::vector<CgroupMountV1> m = ParseCgroupV1Mounts(mountinfo, cgroup);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m[0].own_path, "/");
  EXPECT_EQ(m[1].mount_point, "/sys/fs/cgroup/my pids");
  EXPECT_EQ(m[1].own_path, "/sub");
}

TEST(ParseCgroupV1MountsTest, PureV2HasNone) {
  EXPECT_TRUE(ParseCgroupV1Mounts(kPureV2Mountinfo, kPureV2Cgroup).empty());
  EXPECT_TRUE(ParseCgroupV1Mounts("", "").empty());
  EXPECT_TRUE(ParseCgroupV1Mounts("garbage line\n\n", "nonsense\n").empty());
}

TEST(ParseCgroupV2MountTest, FindsTheUnifiedMountAndOurPlaceInIt) {
  std::optional<CgroupMountV2> hybrid = ParseCgroupV2Mount(kHybridMountinfo, kHybridCgroup);
  ASSERT_TRUE(hybrid.has_value());
  EXPECT_EQ(hybrid->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(hybrid->own_path, "/");
  std::optional<CgroupMountV2> pure = ParseCgroupV2Mount(kPureV2Mountinfo, kPureV2Cgroup);
  ASSERT_TRUE(pure.has_value());
  EXPECT_EQ(pure->mount_point, "/sys/fs/cgroup");
  EXPECT_EQ(pure->own_path, "/system.slice/berthd.service/agent");
  EXPECT_FALSE(ParseCgroupV2Mount(kPureV2Mountinfo, "4:memory:/\n").has_value());
  EXPECT_FALSE(ParseCgroupV2Mount("", kPureV2Cgroup).has_value());
}

// ChooseCgroupDriver reads cgroup.controllers, so the mount points are moved into a fake tree.
class ChooseCgroupDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-cgroup-detect-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    kernel_ = std::make_shared<FakeCgroupKernel>();
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string Relocate(const char* mountinfo) {
    return absl::StrReplaceAll(mountinfo, {{" /sys/fs/cgroup", " " + root_}});
  }

  // Makes our cgroup with `controllers` ("+a +b") handed down from the root to it.
  void MakeOwnCgroup(const std::string& controllers) {
    std::string dir = root_;
    for (const char* level : {"system.slice", "berthd.service", "agent"}) {
      ASSERT_TRUE(kernel_->Write(dir + "/cgroup.subtree_control", controllers).ok()) << dir;
      dir += std::string("/") + level;
      ASSERT_TRUE(kernel_->MakeDir(dir).ok()) << dir;
    }
  }

  std::string root_;
  std::shared_ptr<FakeCgroupKernel> kernel_;
};

TEST_F(ChooseCgroupDriverTest, HybridWithControllerlessCgroup2UsesV1) {
  kernel_->AddV2Hierarchy(root_ + "/unified", {"hugetlb"});
  auto driver = ChooseCgroupDriver(Relocate(kHybridMountinfo), kHybridCgroup, kernel_);
  ASSERT_TRUE(driver.ok()) << driver.status();
  EXPECT_EQ((*driver)->Name(), "v1");
  EXPECT_EQ(*(*driver)->Directory("c", "memory"),
            root_ + "/memory/process_api/494b4b2c9adee0e29f6aa581f8ff1bbb/c");
  EXPECT_EQ(*(*driver)->Directory("c", "cpuacct"), root_ + "/cpuacct/c");
}

TEST_F(ChooseCgroupDriverTest, PureV2WithMemoryAndPidsUsesV2) {
  kernel_->AddV2Hierarchy(root_, {"cpuset", "cpu", "io", "memory", "pids"});
  MakeOwnCgroup("+cpu +memory +pids");
  auto driver = ChooseCgroupDriver(Relocate(kPureV2Mountinfo), kPureV2Cgroup, kernel_);
  ASSERT_TRUE(driver.ok()) << driver.status();
  EXPECT_EQ((*driver)->Name(), "v2");
  EXPECT_EQ(*(*driver)->Directory("c", ""), root_ + "/system.slice/berthd.service/agent/c");
}

TEST_F(ChooseCgroupDriverTest, PureV2WhoseCgroupLacksPidsIsRefusedWithTheReason) {
  kernel_->AddV2Hierarchy(root_, {"cpu", "memory", "pids"});
  MakeOwnCgroup("+cpu +memory");
  auto driver = ChooseCgroupDriver(Relocate(kPureV2Mountinfo), kPureV2Cgroup, kernel_);
  ASSERT_FALSE(driver.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(driver.status()));
  EXPECT_THAT(std::string(driver.status().message()), HasSubstr("offers only [cpu memory]"));
  EXPECT_THAT(std::string(driver.status().message()), HasSubstr("v1 lacks memory, pids, cpu"));
}

TEST_F(ChooseCgroupDriverTest, V1WithoutPidsIsRefusedWithTheReason) {
  const char* mountinfo =
      "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
  auto driver = ChooseCgroupDriver(mountinfo, "4:memory:/\n1:cpu:/\n", kernel_);
  ASSERT_FALSE(driver.ok());
  EXPECT_THAT(std::string(driver.status().message()), HasSubstr("no cgroup2 mount"));
  EXPECT_THAT(std::string(driver.status().message()), HasSubstr("v1 lacks pids"));
}

}  // namespace
}  // namespace berth
