#include <sys/stat.h>

#include "agent/bundle.h"
#include "agent/image/image_store.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-bundle-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    image_.name = "img";
    image_.layers = {dir_ + "/rootfs"};
    ASSERT_TRUE(MakeDirs(image_.layers[0] + "/etc").ok());
    ASSERT_TRUE(WriteFileAtomic(image_.layers[0] + "/etc/passwd",
                                "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
                    .ok());
    ASSERT_TRUE(WriteFileAtomic(image_.layers[0] + "/etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\n").ok());
    image_.config.config.entrypoint = {"/entry"};
    image_.config.config.cmd = {"default-arg"};
    image_.config.config.env = {"PATH=/image/bin", "FOO=image"};
    image_.config.config.working_dir = "/srv";
    paths_ = ContainerPaths::For(dir_ + "/containers", std::string(64, 'a'));
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  absl::StatusOr<spec::Spec> Build(const v1::ContainerConfig& c) {
    return BuildSpec(c, image_, std::string(64, 'a'), "berth/x", paths_);
  }

  std::string dir_;
  image::Image image_;
  ContainerPaths paths_;
};

TEST_F(BundleTest, ImageDefaultsApply) {
  v1::ContainerConfig c;
  auto s = Build(c);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->process.args, (std::vector<std::string>{"/entry", "default-arg"}));
  EXPECT_EQ(s->process.cwd, "/srv");
  EXPECT_EQ(s->hostname, std::string(12, 'a'));
  EXPECT_EQ(s->linux.cgroups_path, "berth/x");
  EXPECT_EQ(s->annotations.at(spec::kAnnotationOverlayLower), image_.layers[0]);
  EXPECT_EQ(s->annotations.at(spec::kAnnotationOverlayUpper), paths_.upper);
  EXPECT_TRUE(s->HasNamespace("network"));
}

TEST_F(BundleTest, CommandReplacesCmdAndEntrypointDropsCmd) {
  v1::ContainerConfig c;
  c.add_command("x");
  EXPECT_EQ(Build(c)->process.args, (std::vector<std::string>{"/entry", "x"}));
  v1::ContainerConfig d;
  d.add_entrypoint("/bin/sh");
  EXPECT_EQ(Build(d)->process.args, (std::vector<std::string>{"/bin/sh"}));
}

TEST_F(BundleTest, EnvOverridesByKey) {
  v1::ContainerConfig c;
  c.add_env("FOO=mine");
  c.add_env("NEW=1");
  auto s = Build(c);
  ASSERT_TRUE(s.ok());
  const auto& env = s->process.env;
  EXPECT_NE(std::find(env.begin(), env.end(), "FOO=mine"), env.end());
  EXPECT_EQ(std::find(env.begin(), env.end(), "FOO=image"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "PATH=/image/bin"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "NEW=1"), env.end());
}

TEST_F(BundleTest, UserByNameGetsGroups) {
  v1::ContainerConfig c;
  c.set_user("app");
  auto s = Build(c);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->process.user.uid, 1000u);
  EXPECT_EQ(s->process.user.gid, 1000u);
  EXPECT_EQ(s->process.user.additional_gids, (std::vector<uint32_t>{50}));
  c.set_user("1234:staff");
  s = Build(c);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->process.user.uid, 1234u);
  EXPECT_EQ(s->process.user.gid, 50u);
}

TEST_F(BundleTest, BadInputsNameTheField) {
  struct Case {
    std::function<void(v1::ContainerConfig&)> mutate;
    const char* field;
  } cases[] = {
      {[](auto& c) { c.add_env("NOEQUALS"); }, "env[0]"},
      {[](auto& c) { c.set_working_dir("relative"); }, "working_dir"},
      {[](auto& c) { c.set_user("nobody-here"); }, "nobody-here"},
      {[](auto& c) { c.set_user("0:nogroup-here"); }, "nogroup-here"},
      {[](auto& c) { auto* m = c.add_mounts(); m->set_source("relative"); m->set_destination("/x"); }, "mounts[0].source"},
      {[](auto& c) { auto* m = c.add_mounts(); m->set_source("/tmp"); m->set_destination("/../etc"); }, "mounts[0].destination"},
      {[](auto& c) { auto* m = c.add_mounts(); m->set_source("/does/not/exist"); m->set_destination("/x"); }, "does not exist"},
      {[](auto& c) { c.mutable_resources()->set_memory_limit_bytes(-1); }, "resources"},
      {[](auto& c) { c.mutable_resources()->set_memory_limit_bytes(1024); }, "memory"},
  };
  for (const auto& tc : cases) {
    v1::ContainerConfig c;
    tc.mutate(c);
    auto s = Build(c);
    ASSERT_FALSE(s.ok()) << tc.field;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    EXPECT_NE(s.status().message().find(tc.field), absl::string_view::npos) << s.status();
  }
}

TEST_F(BundleTest, ResourcesBecomeCgroupLimits) {
  v1::ContainerConfig c;
  c.mutable_resources()->set_memory_limit_bytes(64 << 20);
  c.mutable_resources()->set_cpu_millis(500);
  c.mutable_resources()->set_pids_limit(20);
  auto s = Build(c);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s->linux.resources.memory_limit, 64 << 20);
  EXPECT_EQ(*s->linux.resources.cpu_quota, 50000);
  EXPECT_EQ(*s->linux.resources.cpu_period, 100000u);
  EXPECT_EQ(*s->linux.resources.pids_limit, 20);
}

TEST_F(BundleTest, NetworkPlanPicksTheNamespaceAndMountsTheEtcFiles) {
  v1::ContainerConfig c;
  auto host = BuildSpec(c, image_, std::string(64, 'a'), "berth/x", paths_, SpecNetwork{.host = true});
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_FALSE(host->HasNamespace("network"));

  SpecNetwork join;
  join.join_netns = "/proc/1234/ns/net";
  join.hosts = "/state/hosts";
  join.hostname = "/state/hostname";
  join.resolv_conf = "/state/resolv.conf";
  auto joined = BuildSpec(c, image_, std::string(64, 'a'), "berth/x", paths_, join);
  ASSERT_TRUE(joined.ok()) << joined.status();
  bool found = false;
  for (const auto& ns : joined->linux.namespaces) {
    if (ns.type == "network") found = ns.path == "/proc/1234/ns/net";
  }
  EXPECT_TRUE(found);
  std::map<std::string, std::string> binds;
  for (const auto& m : joined->mounts) {
    if (m.type == "bind") binds[m.destination] = m.source;
  }
  EXPECT_EQ(binds["/etc/hosts"], "/state/hosts");
  EXPECT_EQ(binds["/etc/hostname"], "/state/hostname");
  EXPECT_EQ(binds["/etc/resolv.conf"], "/state/resolv.conf");
}

TEST_F(BundleTest, NoCommandAnywhereIsInvalid) {
  image_.config.config.entrypoint.clear();
  image_.config.config.cmd.clear();
  EXPECT_EQ(Build(v1::ContainerConfig{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BundleTest, LayersStackTopmostFirstAndUsersComeFromTheTopmostPasswd) {
  // A second layer above the first with its own /etc/passwd: its users win.
  const std::string upper_layer = dir_ + "/layer2";
  ASSERT_TRUE(MakeDirs(upper_layer + "/etc").ok());
  ASSERT_TRUE(WriteFileAtomic(upper_layer + "/etc/passwd", "root:x:0:0::/root:/bin/sh\nsvc:x:4242:4243::/:/bin/sh\n").ok());
  image_.layers.push_back(upper_layer);
  v1::ContainerConfig c;
  c.set_user("svc");
  auto s = Build(c);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->annotations.at(spec::kAnnotationOverlayLower), upper_layer + ":" + dir_ + "/rootfs");
  EXPECT_EQ(s->process.user.uid, 4242u);
  EXPECT_EQ(s->process.user.gid, 4243u);
  c.set_user("app");  // only in the lower layer's passwd, which the upper one replaced
  EXPECT_EQ(Build(c).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::agent
