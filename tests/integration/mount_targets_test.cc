// Mount targets that cannot be redirected: every destination is resolved inside the
// container's root (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and mounted through that
// fd. A hostile image's symlinks (/data -> /, /etc/x -> /proc/1/root, ../../ chains) land the
// mount inside the container or refuse it, and a race that swaps a directory for a symlink
// while 200 containers mount below it never puts anything outside. A device node shipped in
// an image stays inert.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/image_support.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

class MountTargets : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }
  void TearDown() override {
    for (const auto& d : dirs_) (void)RemoveTree(d);
  }
  std::string HostDir() {
    char tmpl[] = "/tmp/berth-targets-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    ::chmod(dir.c_str(), 0777);
    dirs_.push_back(dir);
    return dir;
  }
  // Imports busybox plus `items` as local/<name>:1.
  std::string ImportDerived(const std::string& name, const std::vector<TarItem>& items) {
    auto base = ExportedBusybox(agent_);
    EXPECT_TRUE(base.ok()) << base.status();
    if (!base.ok()) return "";
    Image image = DerivedImage(*base, items);
    std::string ref = absl::StrCat("local/", name, ":1");
    auto imported = ImportImages(agent_, LayoutTar({&image}, {ref}));
    EXPECT_TRUE(imported.ok()) << imported.status();
    return ref;
  }

  AgentHarness agent_;
  std::vector<std::string> dirs_;
};

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

TEST_F(MountTargets, HostileSymlinksLandInsideTheContainer) {
  std::string ref = ImportDerived("hostile", {Symlink("data", "/"), Symlink("deep", "../../../../../../tmp"),
                                              Dir("etc/x"), Symlink("etc/proc1", "/proc/1/root")});
  std::string src = HostDir();
  ASSERT_TRUE(WriteFileAtomic(src + "/marker", "from the node\n").ok());
  const std::string canary = "/berth-targets-canary-" + std::to_string(::getpid());
  ASSERT_FALSE(Exists(canary));

  // /data -> /: the bind lands at the container's own /<canary>, nowhere on the node.
  v1::ContainerConfig config = Busybox({"cat", canary + "/marker", "/tmp/deep-target/marker"});
  config.set_image(ref);
  v1::Mount* m = config.add_mounts();
  m->set_source(src);
  m->set_destination("/data" + canary);
  v1::Mount* deep = config.add_mounts();
  deep->set_source(src);
  deep->set_destination("/deep/deep-target");
  v1::TmpfsMount* t = config.add_tmpfs();
  t->set_destination("/data/etc/x/tmp");
  auto r = agent_.RunToExit(config);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "from the node\nfrom the node\n");
  EXPECT_FALSE(Exists(canary));
  EXPECT_FALSE(Exists("/tmp/deep-target"));
  EXPECT_FALSE(Exists("/etc/x"));

  // A magic link (/proc/1/root) is never followed: the mount is refused with the reason.
  v1::ContainerConfig magic = Busybox({"true"});
  magic.set_image(ref);
  v1::TmpfsMount* mt = magic.add_tmpfs();
  mt->set_destination("/etc/proc1/escaped");
  auto c = agent_.Create(magic);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/etc/proc1/escaped"));
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  for (const auto& x : *list) ASSERT_TRUE(agent_.Remove(x.id()).ok());
}

// A block device shipped in an image cannot be opened: the root is nodev and the device
// cgroup denies it.
TEST_F(MountTargets, DeviceNodeInTheImageIsInert) {
  std::string ref = ImportDerived("devnode", {BlockDevice("disk", 7, 0)});
  v1::ContainerConfig config = Busybox({"sh", "-c", "ls -l /disk; head -c 1 /disk"});
  config.set_image(ref);
  auto r = agent_.RunToExit(config);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->out, HasSubstr("7,   0"));
  EXPECT_NE(r->exit_code, 0);
  EXPECT_THAT(r->err, ::testing::AnyOf(HasSubstr("Permission denied"), HasSubstr("Operation not permitted")));
}

// One container swaps a directory it shares with the others for a symlink to "/" and back,
// as fast as it can; 200 containers are created meanwhile with a bind mount below that
// directory. Each either fails to be created or finds its mount inside itself; the node never
// gets anything.
TEST_F(MountTargets, SymlinkSwapRaceNeverEscapes) {
  std::string shared = HostDir();
  std::string src = HostDir();
  ASSERT_TRUE(WriteFileAtomic(src + "/marker", "m\n").ok());
  ASSERT_EQ(::mkdir((shared + "/x").c_str(), 0777), 0);
  const std::string canary = "/berth-race-target-" + std::to_string(::getpid());

  v1::ContainerConfig swapper = Busybox(
      {"sh", "-c", "cd /shared; while true; do mv x d; ln -s / x; rm x; mv d x; done"});
  v1::Mount* sm = swapper.add_mounts();
  sm->set_source(shared);
  sm->set_destination("/shared");
  auto swap = agent_.Run(swapper);
  ASSERT_TRUE(swap.ok()) << swap.status();

  int created = 0;
  for (int i = 0; i < 200; ++i) {
    // The bind must be among the container's own mounts: one that escaped its root would
    // have gone with the node's tree at pivot_root. (Where inside depends on the race: the
    // swapper may have renamed the directory since.)
    v1::ContainerConfig config = Busybox({"grep", "-q", canary, "/proc/self/mountinfo"});
    v1::Mount* s = config.add_mounts();
    s->set_source(shared);
    s->set_destination("/shared");
    v1::Mount* m = config.add_mounts();
    m->set_source(src);
    m->set_destination("/shared/x" + canary);
    auto c = agent_.Create(config);
    if (!c.ok()) continue;  // a lost race may refuse the mount; that is fine
    ++created;
    auto started = agent_.StartContainer(c->id());
    ASSERT_TRUE(started.ok()) << started.status();
    auto wait = agent_.Wait(c->id());
    ASSERT_TRUE(wait.ok());
    EXPECT_EQ(wait->exit_code(), 0) << "mount not found inside container " << i;
    ASSERT_TRUE(agent_.Remove(c->id()).ok());
    ASSERT_FALSE(Exists(canary)) << "a mount target appeared on the node";
  }
  ASSERT_TRUE(agent_.Remove(swap->id()).ok());
  EXPECT_GT(created, 0);
  EXPECT_FALSE(Exists(canary));
  // Whatever was made inside the shared dir stayed in it.
  EXPECT_FALSE(Exists(canary + "/marker"));
}

}  // namespace
}  // namespace berth::testing
