// --userns=auto: root in the container is an unprivileged range of 65536 ids on the node,
// taken from the agent's pool, disjoint between containers, durable across agent restarts
// and freed on remove. Checked from inside (uid_map, id) and from the node (file owners on a
// bind mount, the delegated cgroup, what the container's root can and cannot read).
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

class Userns : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start({"--userns-pool", "200000:655360"})); }
  void TearDown() override {
    for (const auto& d : dirs_) (void)RemoveTree(d);
  }

  std::string HostDir(mode_t mode) {
    char tmpl[] = "/tmp/berth-userns-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    ::chmod(dir.c_str(), mode);
    dirs_.push_back(dir);
    return dir;
  }

  static v1::ContainerConfig Auto(const std::vector<std::string>& args) {
    v1::ContainerConfig c = Busybox(args);
    c.mutable_security()->set_userns("auto");
    return c;
  }

  // The first node id of the container's range, from /proc/self/uid_map inside it.
  uint32_t MappedRoot(const std::string& id) {
    auto e = agent_.Exec(id, {"cat", "/proc/self/uid_map"});
    EXPECT_TRUE(e.ok()) << e.status();
    if (!e.ok()) return 0;
    std::vector<std::string> f = absl::StrSplit(e->out, ' ', absl::SkipWhitespace());
    uint32_t first = 0;
    EXPECT_EQ(f.size(), 3u) << e->out;
    if (f.size() == 3) EXPECT_TRUE(absl::SimpleAtoi(f[1], &first));
    return first;
  }

  AgentHarness agent_;
  std::vector<std::string> dirs_;
};

TEST_F(Userns, RootIsAMappedIdOfThePool) {
  auto r = agent_.RunToExit(Auto({"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  std::vector<std::string> lines = absl::StrSplit(r->out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << r->out;
  std::vector<std::string> uid = absl::StrSplit(lines[0], ' ', absl::SkipWhitespace());
  ASSERT_EQ(uid.size(), 3u);
  EXPECT_EQ(uid[0], "0");
  uint32_t first = 0;
  ASSERT_TRUE(absl::SimpleAtoi(uid[1], &first));
  EXPECT_GE(first, 200000u);
  EXPECT_LT(first, 200000u + 655360u);
  EXPECT_EQ((first - 200000u) % 65536u, 0u);
  EXPECT_EQ(uid[2], "65536");
  EXPECT_EQ(lines[2], "0");
  EXPECT_EQ(lines[3], "0");
}

TEST_F(Userns, ContainerRootOwnsNothingOfTheNode) {
  std::string dir = HostDir(0777);
  ASSERT_TRUE(WriteFileAtomic(dir + "/secret", "node root only\n", 0600).ok());
  v1::ContainerConfig config = Auto({"sh", "-c", "cat /data/secret; echo made > /data/made; ls -ln /data/secret"});
  v1::Mount* m = config.add_mounts();
  m->set_source(dir);
  m->set_destination("/data");
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  auto wait = agent_.Wait(c->id());
  ASSERT_TRUE(wait.ok());
  auto logs = agent_.Logs(c->id());
  ASSERT_TRUE(logs.ok());
  EXPECT_THAT(*logs, HasSubstr("Permission denied"));
  EXPECT_THAT(*logs, ::testing::Not(HasSubstr("node root only")));
  EXPECT_THAT(*logs, ::testing::ContainsRegex("65534 +65534"));  // the node's root is unmapped
  struct stat st;
  ASSERT_EQ(::stat((dir + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, c->security().uid_map(0).host_id());
  EXPECT_EQ(st.st_gid, c->security().gid_map(0).host_id());
  EXPECT_GE(st.st_uid, 200000u);
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

// An idmapped bind shows the node's files with the container's ids: its root owns what the
// node's root owns there, and what it writes belongs to the node's root.
TEST_F(Userns, IdmappedBindMapsOwners) {
  std::string dir = HostDir(0755);
  ASSERT_TRUE(WriteFileAtomic(dir + "/secret", "readable through idmap\n", 0600).ok());
  v1::ContainerConfig config = Auto({"sh", "-c", "cat /data/secret; echo made > /data/made; ls -ln /data/secret"});
  v1::Mount* m = config.add_mounts();
  m->set_source(dir);
  m->set_destination("/data");
  m->set_idmap(true);
  auto r = agent_.RunToExit(config);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_THAT(r->out, HasSubstr("readable through idmap"));
  EXPECT_THAT(r->out, ::testing::ContainsRegex(" 0 +0 "));
  struct stat st;
  ASSERT_EQ(::stat((dir + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);

  // Without a user namespace an idmap is refused rather than silently ignored.
  v1::ContainerConfig host = Busybox({"true"});
  *host.add_mounts() = *m;
  auto c = agent_.Create(host);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("idmap"));
}

// The image's files are root's inside (idmapped layers, nothing chowned), and what the
// container writes lands in its upper dir under the mapped id.
TEST_F(Userns, ImageLayersAreIdmappedNotCopied) {
  auto c = agent_.Run(Auto({"sh", "-c", "ls -ln /bin/busybox; touch /newfile; sleep 30"}));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    auto logs = agent_.Logs(c->id());
    return logs.ok() && absl::StrContains(*logs, "busybox");
  }));
  auto logs = agent_.Logs(c->id());
  EXPECT_THAT(*logs, ::testing::ContainsRegex(" 0 +0 "));
  struct stat layer_file;
  ASSERT_EQ(::stat((agent_.BusyboxLayerDir() + "/bin/busybox").c_str(), &layer_file), 0);
  EXPECT_EQ(layer_file.st_uid, 0u);  // the layer itself is untouched
  ASSERT_TRUE(Eventually([&] {
    struct stat st;
    return ::stat((agent_.root() + "/containers/" + c->id() + "/upper/newfile").c_str(), &st) == 0 &&
           st.st_uid == c->security().uid_map(0).host_id();
  }));
  // The cgroup is the container's root's to manage.
  struct stat cg;
  ASSERT_EQ(::stat(agent_.CgroupDir(c->id(), "pids").c_str(), &cg), 0);
  EXPECT_EQ(cg.st_uid, c->security().uid_map(0).host_id());
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(Userns, RangesAreDisjointDurableAndFreed) {
  std::vector<std::string> ids;
  std::set<uint32_t> firsts;
  for (int i = 0; i < 3; ++i) {
    auto c = agent_.Run(Auto({"sleep", "60"}));
    ASSERT_TRUE(c.ok()) << c.status();
    ids.push_back(c->id());
    uint32_t first = MappedRoot(c->id());
    EXPECT_EQ(first, c->security().uid_map(0).host_id());
    firsts.insert(first);
  }
  EXPECT_EQ(firsts.size(), 3u);  // 65536-id ranges starting at different ids never overlap

  // After a crash of the agent, the ranges of the running containers stay theirs.
  agent_.Restart();
  for (const std::string& id : ids) EXPECT_TRUE(firsts.count(MappedRoot(id))) << id;
  auto next = agent_.Run(Auto({"sleep", "60"}));
  ASSERT_TRUE(next.ok()) << next.status();
  uint32_t fourth = MappedRoot(next->id());
  EXPECT_FALSE(firsts.count(fourth));

  // Remove frees a range: the next container may get it again, and the pool's file is gone.
  uint32_t freed = *firsts.begin();
  for (const std::string& id : ids) {
    if (MappedRoot(id) == freed) ASSERT_TRUE(agent_.Remove(id).ok());
  }
  EXPECT_NE(::access((agent_.root() + "/userns/" + std::to_string(freed)).c_str(), F_OK), 0);
  auto again = agent_.Run(Auto({"true"}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->security().uid_map(0).host_id(), freed);
}

TEST_F(Userns, PoolExhaustionIsResourceExhausted) {
  agent_.Kill();
  agent_.Start({"--userns-pool", "300000:131072"});
  auto a = agent_.Run(Auto({"sleep", "60"}));
  auto b = agent_.Run(Auto({"sleep", "60"}));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = agent_.Create(Auto({"true"}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(Userns, ImpossibleCombinationsAreRefused) {
  for (const char* network : {"host"}) {
    v1::ContainerConfig config = Auto({"true"});
    config.set_network(network);
    auto c = agent_.Create(config);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(c.status().message(), HasSubstr("userns"));
  }
  v1::ContainerConfig privileged = Auto({"true"});
  privileged.mutable_security()->set_privileged(true);
  auto p = agent_.Create(privileged);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(::access((agent_.root() + "/userns").c_str(), F_OK), 0);
  EXPECT_TRUE(ListDirectory(agent_.root() + "/userns").empty());
}

}  // namespace
}  // namespace berth::testing
