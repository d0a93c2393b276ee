// A four-node cluster on one machine (deploy/test-cluster) driven through the real CLI with
// --cluster/--node: TCP between containers of different nodes, a published port reached from
// another node, `ps --all-nodes`, and a `down` that leaves nothing behind (namespaces,
// processes, cgroups, files) even when a node's agent was killed. Every call goes over TCP
// with mutual TLS to the node's underlay address, dialled from the underlay namespace (the
// CLI moves there itself), never from the node's own namespace or through its socket.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kNodes = 4;

std::string RepoRoot() {
  // This file is tests/integration/cluster_test.cc.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

std::string Script() { return RepoRoot() + "/deploy/test-cluster"; }

// berthd, berth-shim and berth are built side by side.
std::string BinDir() { return std::filesystem::path(BERTHD_PATH).parent_path().string(); }

std::string Busybox() {
  for (const char* path : {"/bin/busybox", "/usr/bin/busybox"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "/bin/busybox";
}

std::string Describe(const CliResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout:\n", r.out, "\nstderr:\n", r.err);
}

// Names in /run/netns that start with `prefix`.
std::vector<std::string> NamespacesWithPrefix(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, prefix)) out.push_back(name);
  }
  return out;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-cluster-it-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    inventory_path_ = dir_ + "/inventory.json";
    // The script's tag: the first 6 hex digits of sha256(dir).
    CliResult sum = RunProgram({"/usr/bin/sha256sum"}, dir_, 10);
    ASSERT_EQ(sum.exit_code, 0) << Describe(sum);
    tag_ = sum.out.substr(0, 6);

    CliResult up = RunProgram({Script(), "up", "--nodes", std::to_string(kNodes), "--dir", dir_,
                               "--bin", BinDir()},
                              "", 120);
    ASSERT_EQ(up.exit_code, 0) << Describe(up);
    ASSERT_EQ(absl::StripTrailingAsciiWhitespace(up.out), inventory_path_);
    inventory_ = nlohmann::json::parse(ReadText(inventory_path_), nullptr, false);
    ASSERT_FALSE(inventory_.is_discarded()) << ReadText(inventory_path_);
    ASSERT_EQ(inventory_["nodes"].size(), static_cast<size_t>(kNodes));
  }

  // `down` runs whatever the test did (assertions included), then nothing may be left.
  void TearDown() override {
    CliResult down = RunProgram({Script(), "down", "--dir", dir_}, "", 120);
    EXPECT_EQ(down.exit_code, 0) << Describe(down);
    const std::vector<std::string> namespaces = NamespacesWithPrefix("berthc-" + tag_ + "-");
    EXPECT_TRUE(namespaces.empty()) << "network namespaces left: " << absl::StrJoin(namespaces, ", ");
    std::vector<pid_t> procs;
    Eventually([&] { return (procs = ProcessesMentioning(dir_)).empty(); },
               std::chrono::seconds(5));
    EXPECT_TRUE(procs.empty()) << "processes naming " << dir_ << " left: " << absl::StrJoin(procs, ", ");
    for (pid_t pid : procs) ::kill(pid, SIGKILL);
    std::vector<std::string> cgroups;
    for (int i = 1; i <= kNodes; ++i) {
      for (const std::string& d : CgroupDirsNamed(absl::StrCat("berth-cluster-", tag_, "-node-", i))) {
        cgroups.push_back(d);
      }
    }
    // Also anywhere else below /sys/fs/cgroup (the agents ran in the script's cgroups).
    CliResult found = RunProgram({"/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "8", "-type", "d",
                                  "-name", "berth-cluster-" + tag_ + "-*"},
                                 "", 30);
    for (absl::string_view line : absl::StrSplit(found.out, '\n', absl::SkipEmpty())) {
      cgroups.emplace_back(line);
    }
    EXPECT_TRUE(cgroups.empty()) << "cgroup dirs left: " << absl::StrJoin(cgroups, ", ");
    struct stat st;
    EXPECT_NE(::stat(dir_.c_str(), &st), 0) << dir_ << " was not removed";
    if (::stat(dir_.c_str(), &st) == 0) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // The CLI against one node of the cluster ("" for no --node).
  CliResult Cli(const std::string& node, const std::vector<std::string>& args, int timeout = 60) {
    std::vector<std::string> argv = {BERTH_CLI_PATH, "--cluster", inventory_path_};
    if (!node.empty()) {
      argv.push_back("--node");
      argv.push_back(node);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, "", timeout);
  }

  std::string NodeField(int i, const std::string& key) {
    return inventory_["nodes"][i - 1][key].get<std::string>();
  }

  std::string ContainerIp(const std::string& node, const std::string& name) {
    CliResult r = Cli(node, {"inspect", name});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.is_array() || j.empty()) return "";
    return j[0]["network_settings"]["ip_address"].get<std::string>();
  }

  // True once `name` on `node` listens on TCP `port` (busybox netstat inside it).
  bool Listening(const std::string& node, const std::string& name, int port) {
    return Eventually(
        [&] {
          CliResult r = Cli(node, {"exec", name, "netstat", "-ltn"}, 15);
          return r.exit_code == 0 && absl::StrContains(r.out, absl::StrCat(":", port, " "));
        },
        std::chrono::seconds(15));
  }

  bool LogsContain(const std::string& node, const std::string& name, const std::string& text) {
    return Eventually(
        [&] {
          CliResult r = Cli(node, {"logs", name}, 15);
          return absl::StrContains(r.out, text);
        },
        std::chrono::seconds(10));
  }

  std::string dir_;
  std::string inventory_path_;
  std::string tag_;
  nlohmann::json inventory_;
};

TEST_F(ClusterTest, InventoryDescribesEveryNode) {
  for (int i = 1; i <= kNodes; ++i) {
    const nlohmann::json& node = inventory_["nodes"][i - 1];
    EXPECT_EQ(node["name"], absl::StrCat("node-", i));
    EXPECT_EQ(node["address"], absl::StrCat("10.99.0.", i));
    EXPECT_EQ(node["subnet"], absl::StrCat("10.88.", i, ".0/24"));
    EXPECT_EQ(node["netns"], absl::StrCat("berthc-", tag_, "-n", i));
    EXPECT_EQ(node["netns_path"], absl::StrCat("/run/netns/berthc-", tag_, "-n", i));
    EXPECT_TRUE(node["pid"].is_number_integer());
    CliResult health = Cli(absl::StrCat("node-", i), {"system", "health"});
    EXPECT_EQ(health.exit_code, 0) << Describe(health);
    EXPECT_EQ(health.out, "SERVING\n");
  }
  EXPECT_EQ(inventory_["underlay"]["netns"], "berthc-" + tag_ + "-ul");
  CliResult status = RunProgram({Script(), "status", "--dir", dir_}, "", 60);
  EXPECT_EQ(status.exit_code, 0) << Describe(status);
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(status.out, '\n', absl::SkipEmpty())).size(),
            static_cast<size_t>(kNodes));
  EXPECT_THAT(status.out, HasSubstr("node-2   10.99.0.2"));
  EXPECT_THAT(status.out, Not(HasSubstr("DOWN")));

  // A second up on the same directory is refused and leaves the cluster alone.
  CliResult again = RunProgram({Script(), "up", "--nodes", "1", "--dir", dir_, "--bin", BinDir()}, "", 60);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("already holds a cluster"));
  EXPECT_EQ(Cli("node-1", {"system", "health"}).exit_code, 0);

  // Unknown nodes are named with the ones that exist; -H and --node do not mix.
  CliResult unknown = Cli("node-9", {"ps"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_THAT(unknown.err, HasSubstr("unknown node 'node-9'"));
  EXPECT_THAT(unknown.err, HasSubstr("(nodes: node-1, node-2, node-3, node-4)"));
  CliResult both = RunProgram({BERTH_CLI_PATH, "-H", "/nonexistent.sock", "--cluster", inventory_path_,
                               "--node", "node-1", "ps"},
                              "", 30);
  EXPECT_EQ(both.exit_code, 125);
  EXPECT_THAT(both.err, HasSubstr("cannot be used together"));
}

// The CLI's calls arrive over TCP + mTLS from the underlay (the audit log says who and from
// where), and a certificate without a role gets nothing from any node.
TEST_F(ClusterTest, EveryCallGoesOverMutualTlsFromTheUnderlay) {
  ASSERT_TRUE(inventory_.contains("tls")) << inventory_.dump();
  for (int i = 1; i <= kNodes; ++i) {
    EXPECT_EQ(NodeField(i, "endpoint"), absl::StrCat("tcp://10.99.0.", i, ":7443"));
  }
  const std::string underlay = inventory_["underlay"]["address"].get<std::string>();
  CliResult run = Cli("node-2", {"run", "-d", "--name", "audited", "busybox", "sleep", "60"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  bool found = false;
  const std::string audit = ReadText(NodeField(2, "root") + "/audit.log");
  for (absl::string_view line : absl::StrSplit(audit, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j["method"] != "/berth.v1.Containers/Create") continue;
    found = true;
    EXPECT_EQ(j["identity"], "spiffe://berth/admin") << line;
    EXPECT_EQ(j["code"], "OK") << line;
    EXPECT_TRUE(absl::StartsWith(j["peer"].get<std::string>(), "ipv4:" + underlay + ":")) << line;
  }
  EXPECT_TRUE(found) << "no Create in node-2's audit log:\n" << audit;

  // The same inventory with a client certificate of the cluster's CA that no node names.
  const std::string tls = dir_ + "/tls";
  CliResult made = RunProgram({RepoRoot() + "/deploy/berth-tls", "client", tls, "stranger"}, "", 60);
  ASSERT_EQ(made.exit_code, 0) << Describe(made);
  nlohmann::json stranger = inventory_;
  stranger["tls"]["cert"] = tls + "/stranger.pem";
  stranger["tls"]["key"] = tls + "/stranger-key.pem";
  const std::string stranger_path = dir_ + "/stranger-inventory.json";
  ASSERT_TRUE(WriteFileAtomic(stranger_path, stranger.dump()).ok());
  CliResult denied = RunProgram({BERTH_CLI_PATH, "--cluster", stranger_path, "--node", "node-1", "ps"}, "", 60);
  EXPECT_NE(denied.exit_code, 0) << Describe(denied);
  EXPECT_THAT(denied.err, HasSubstr("spiffe://berth/stranger")) << Describe(denied);
  CliResult all = RunProgram({BERTH_CLI_PATH, "--cluster", stranger_path, "ps", "--all-nodes"}, "", 60);
  for (int i = 1; i <= kNodes; ++i) {
    EXPECT_THAT(all.err, HasSubstr(absl::StrCat("Warning: node node-", i))) << Describe(all);
  }
  EXPECT_THAT(all.out, Not(HasSubstr("audited")));
}

TEST_F(ClusterTest, TcpBetweenContainersOfDifferentNodes) {
  // -i: busybox nc -l whose stdin is at EOF may exit before it reads what a quick client sent
  // (7 in 100 on loopback); an open stdin keeps it reading until the client closes.
  CliResult sink = Cli("node-3", {"run", "-d", "-i", "--name", "sink", "busybox", "nc", "-l", "-p", "7000"});
  ASSERT_EQ(sink.exit_code, 0) << Describe(sink);
  const std::string ip = ContainerIp("node-3", "sink");
  ASSERT_TRUE(absl::StartsWith(ip, "10.88.3.")) << ip;
  ASSERT_TRUE(Listening("node-3", "sink", 7000));

  const std::string line = "hello from node-1 to " + ip;
  // A few tries: on a loaded machine the first SYN can be lost while the new veths and routes
  // settle (a refused or timed-out connect does not use up the one-shot listener).
  CliResult send = Cli("node-1", {"run", "--rm", "busybox", "sh", "-c",
                                  "for i in 1 2 3 4 5; do echo '" + line + "' | nc -w 5 " + ip +
                                      " 7000 && exit 0; sleep 1; done; exit 1"});
  EXPECT_EQ(send.exit_code, 0) << Describe(send);
  EXPECT_TRUE(LogsContain("node-3", "sink", line)) << Describe(Cli("node-3", {"logs", "sink"}));
}

TEST_F(ClusterTest, PublishedPortIsReachableFromAnotherNode) {
  CliResult web = Cli("node-2", {"run", "-d", "-i", "--name", "web", "-p", "8080:7000", "busybox", "nc",
                                 "-l", "-p", "7000"});
  ASSERT_EQ(web.exit_code, 0) << Describe(web);
  CliResult port = Cli("node-2", {"port", "web"});
  EXPECT_EQ(port.exit_code, 0) << Describe(port);
  EXPECT_EQ(port.out, "7000/tcp -> 0.0.0.0:8080\n");
  ASSERT_TRUE(Listening("node-2", "web", 7000));

  // From node-4's network namespace (not a container) to node-2's underlay address.
  const std::string line = "hello through 10.99.0.2:8080";
  CliResult send = RunProgram({"/usr/bin/nsenter", "--net=" + NodeField(4, "netns_path"), Busybox(), "sh", "-c",
                               "for i in 1 2 3 4 5; do echo '" + line + "' | " + Busybox() +
                                   " nc -w 5 10.99.0.2 8080 && exit 0; sleep 1; done; exit 1"},
                              "", 60);
  EXPECT_EQ(send.exit_code, 0) << Describe(send);
  EXPECT_TRUE(LogsContain("node-2", "web", line)) << Describe(Cli("node-2", {"logs", "web"}));
}

TEST_F(ClusterTest, PsAllNodesListsEveryNodeAndSurvivesADeadOne) {
  for (int i = 1; i <= kNodes; ++i) {
    CliResult r = Cli(absl::StrCat("node-", i),
                      {"run", "-d", "--name", absl::StrCat("idle-", i), "busybox", "sleep", "600"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
  }
  CliResult ps = Cli("", {"ps", "--all-nodes"});
  ASSERT_EQ(ps.exit_code, 0) << Describe(ps);
  std::vector<std::string> lines = absl::StrSplit(ps.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kNodes + 1)) << ps.out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "NODE ")) << lines[0];
  EXPECT_THAT(lines[0], HasSubstr("CONTAINER ID"));
  EXPECT_THAT(lines[0], HasSubstr("PORTS"));
  for (int i = 1; i <= kNodes; ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], absl::StrCat("node-", i, " "))) << lines[i];
    EXPECT_THAT(lines[i], HasSubstr(absl::StrCat("idle-", i)));
  }
  CliResult quiet = Cli("", {"ps", "--all-nodes", "-q"});
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(quiet.out, '\n', absl::SkipEmpty())).size(),
            static_cast<size_t>(kNodes));

  // node-2's agent dies (its container stays, paused): a warning, the others still listed.
  CliResult pause = Cli("node-2", {"pause", "idle-2"});
  ASSERT_EQ(pause.exit_code, 0) << Describe(pause);
  const int pid = inventory_["nodes"][1]["pid"].get<int>();
  ASSERT_THAT(ReadText(absl::StrCat("/proc/", pid, "/cmdline")), HasSubstr("berthd"));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return Cli("node-2", {"system", "health"}, 10).exit_code == 125; }));
  ps = Cli("", {"ps", "--all-nodes"});
  EXPECT_EQ(ps.exit_code, 0) << Describe(ps);
  EXPECT_THAT(ps.err, HasSubstr("Warning: node node-2"));
  EXPECT_THAT(ps.out, HasSubstr("idle-1"));
  EXPECT_THAT(ps.out, HasSubstr("idle-3"));
  EXPECT_THAT(ps.out, Not(HasSubstr("idle-2")));
  CliResult status = RunProgram({Script(), "status", "--dir", dir_}, "", 60);
  EXPECT_THAT(status.out, HasSubstr("DOWN"));
  // TearDown's down must still remove idle-2's shim, its frozen processes and cgroups.
}

}  // namespace
}  // namespace berth::testing
