// berth CLI: the cluster inventory (deploy/test-cluster's inventory.json), node lookup, and the
// choice between -H/--host, --cluster and --node (flags and environment).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/host_target.h"
#include "cli/inventory.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

constexpr char kThreeNodes[] = R"({
  "dir": "/tmp/berth-cluster",
  "underlay": {"netns": "berthc-ab12-ul", "bridge": "ul0", "subnet": "10.99.0.0/24"},
  "nodes": [
    {"name": "node-1", "socket": "/tmp/berth-cluster/node-1/berth.sock", "address": "10.99.0.1",
     "subnet": "10.88.1.0/24", "netns": "berthc-ab12-n1", "netns_path": "/run/netns/berthc-ab12-n1",
     "pid": 1234, "root": "/tmp/berth-cluster/node-1/root", "log": "/tmp/berth-cluster/node-1/berthd.log"},
    {"name": "node-2", "socket": "/tmp/berth-cluster/node-2/berth.sock", "address": "10.99.0.2"},
    {"name": "node-3", "socket": "node-3/berth.sock", "extra": [1, 2]}
  ]
})";

TEST(ParseInventory, ReadsEveryField) {
  absl::StatusOr<Inventory> inv = ParseInventory(kThreeNodes, "/tmp/berth-cluster");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->dir, "/tmp/berth-cluster");
  ASSERT_EQ(inv->nodes.size(), 3u);
  const InventoryNode& n1 = inv->nodes[0];
  EXPECT_EQ(n1.name, "node-1");
  EXPECT_EQ(n1.socket, "/tmp/berth-cluster/node-1/berth.sock");
  EXPECT_EQ(n1.address, "10.99.0.1");
  EXPECT_EQ(n1.subnet, "10.88.1.0/24");
  EXPECT_EQ(n1.netns, "berthc-ab12-n1");
  EXPECT_EQ(n1.netns_path, "/run/netns/berthc-ab12-n1");
  EXPECT_EQ(n1.pid, 1234);
  EXPECT_EQ(n1.root, "/tmp/berth-cluster/node-1/root");
  EXPECT_EQ(n1.log, "/tmp/berth-cluster/node-1/berthd.log");
  EXPECT_EQ(inv->nodes[1].pid, 0);
  // A relative socket is relative to the inventory's directory.
  EXPECT_EQ(inv->nodes[2].socket, "/tmp/berth-cluster/node-3/berth.sock");
}

TEST(ParseInventory, Rejects) {
  const std::map<std::string, std::string> bad = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[]", "top level"},
      {"{}", "\"nodes\""},
      {R"({"nodes": {}})", "\"nodes\""},
      {R"({"nodes": []})", "no nodes"},
      {R"({"nodes": [1]})", "nodes[0] must be an object"},
      {R"({"nodes": [{"socket": "/s"}]})", "nodes[0].name is missing"},
      {R"({"nodes": [{"name": "a"}]})", "socket is missing"},
      {R"({"nodes": [{"name": 7, "socket": "/s"}]})", "nodes[0].name must be a string"},
      {R"({"nodes": [{"name": "a", "socket": "/s", "pid": "x"}]})", "pid must be an integer"},
      {R"({"nodes": [{"name": "a", "socket": "/s"}, {"name": "a", "socket": "/t"}]})",
       "appears twice"},
  };
  for (const auto& [json, message] : bad) {
    absl::StatusOr<Inventory> inv = ParseInventory(json, "/x");
    ASSERT_FALSE(inv.ok()) << json;
    EXPECT_THAT(std::string(inv.status().message()), HasSubstr(message)) << json;
  }
}

TEST(FindNode, UnknownNodeListsTheNames) {
  Inventory inv = *ParseInventory(kThreeNodes, "/d");
  inv.path = "/d/inventory.json";
  absl::StatusOr<const InventoryNode*> n = FindNode(inv, "node-2");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)->address, "10.99.0.2");
  n = FindNode(inv, "node-7");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(n.status().message(),
            "unknown node 'node-7' in /d/inventory.json (nodes: node-1, node-2, node-3)");
}

TEST(LoadInventory, FromAFile) {
  char dir_template[] = "/tmp/berth-inv-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/inventory.json";
  { std::ofstream(path) << R"({"nodes": [{"name": "n", "socket": "n/berth.sock"}]})"; }
  absl::StatusOr<Inventory> inv = LoadInventory(path);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->path, path);
  EXPECT_EQ(inv->nodes[0].socket, dir + "/n/berth.sock");
  { std::ofstream(path) << "{oops"; }
  inv = LoadInventory(path);
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(std::string(inv.status().message()), HasSubstr(path));
  unlink(path.c_str());
  rmdir(dir.c_str());
  inv = LoadInventory(path);
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kNotFound);
}

// A loader that serves kThreeNodes for "inv.json" and a one-node cluster for "one.json".
InventoryLoader FakeLoader(int* loads = nullptr) {
  return [loads](const std::string& path) -> absl::StatusOr<Inventory> {
    if (loads != nullptr) ++*loads;
    absl::StatusOr<Inventory> inv;
    if (path == "inv.json") {
      inv = ParseInventory(kThreeNodes, "/base");
    } else if (path == "one.json") {
      inv = ParseInventory(R"({"nodes": [{"name": "solo", "socket": "/solo.sock"}]})", "/");
    } else {
      return absl::NotFoundError("cannot read cluster inventory " + path);
    }
    if (inv.ok()) inv->path = path;
    return inv;
  };
}

TargetSettings Settings(std::string host, bool host_flag, std::string cluster, bool cluster_flag,
                        std::string node, bool node_flag) {
  TargetSettings s;
  s.host = std::move(host);
  s.host_from_flag = host_flag;
  s.cluster = std::move(cluster);
  s.cluster_from_flag = cluster_flag;
  s.node = std::move(node);
  s.node_from_flag = node_flag;
  return s;
}

std::string Target(const TargetSettings& s) {
  absl::StatusOr<std::string> t = ChooseAgentTarget(s, FakeLoader());
  return t.ok() ? *t : "error: " + std::string(t.status().message());
}

TEST(ChooseAgentTarget, HostOrDefault) {
  int loads = 0;
  EXPECT_EQ(*ChooseAgentTarget(Settings("", false, "", false, "", false), FakeLoader(&loads)),
            kDefaultHost);
  EXPECT_EQ(Target(Settings("/a.sock", true, "", false, "", false)), "unix:///a.sock");
  EXPECT_EQ(Target(Settings("/a.sock", false, "", false, "", false)), "unix:///a.sock");
  EXPECT_EQ(loads, 0);  // no cluster, nothing read
}

TEST(ChooseAgentTarget, NodeOfTheCluster) {
  EXPECT_EQ(Target(Settings("", false, "inv.json", true, "node-2", true)),
            "unix:///tmp/berth-cluster/node-2/berth.sock");
  EXPECT_EQ(Target(Settings("", false, "inv.json", false, "node-3", false)),
            "unix:///base/node-3/berth.sock");
  // One node: no --node needed.
  EXPECT_EQ(Target(Settings("", false, "one.json", true, "", false)), "unix:///solo.sock");
}

TEST(ChooseAgentTarget, Errors) {
  EXPECT_EQ(Target(Settings("/a.sock", true, "inv.json", true, "node-1", true)),
            "error: -H/--host and --node cannot be used together");
  EXPECT_EQ(Target(Settings("/a.sock", true, "inv.json", true, "", false)),
            "error: -H/--host and --cluster cannot be used together");
  EXPECT_THAT(Target(Settings("/a.sock", false, "inv.json", false, "node-1", false)),
              HasSubstr("BERTH_HOST and BERTH_NODE are both set"));
  EXPECT_THAT(Target(Settings("", false, "", false, "node-1", true)),
              HasSubstr("needs a cluster: give --cluster FILE"));
  EXPECT_EQ(Target(Settings("", false, "inv.json", true, "node-9", true)),
            "error: unknown node 'node-9' in inv.json (nodes: node-1, node-2, node-3)");
  EXPECT_THAT(Target(Settings("", false, "inv.json", true, "", false)),
              HasSubstr("choose one with --node NAME (nodes: node-1, node-2, node-3)"));
  EXPECT_THAT(Target(Settings("", false, "missing.json", true, "node-1", true)),
              HasSubstr("cannot read cluster inventory missing.json"));
}

TEST(ChooseAgentTarget, AFlagBeatsTheEnvironment) {
  // --node over BERTH_HOST; -H over BERTH_NODE.
  EXPECT_EQ(Target(Settings("/env.sock", false, "inv.json", false, "node-1", true)),
            "unix:///tmp/berth-cluster/node-1/berth.sock");
  EXPECT_EQ(Target(Settings("/flag.sock", true, "inv.json", false, "node-1", false)),
            "unix:///flag.sock");
  // --cluster (one node) over BERTH_HOST; BERTH_HOST over BERTH_CLUSTER.
  EXPECT_EQ(Target(Settings("/env.sock", false, "one.json", true, "", false)),
            "unix:///solo.sock");
  EXPECT_EQ(Target(Settings("/env.sock", false, "one.json", false, "", false)),
            "unix:///env.sock");
}

TEST(ChooseAllNodes, NeedsAClusterAndNoSingleTarget) {
  absl::StatusOr<Inventory> inv =
      ChooseAllNodes(Settings("", false, "inv.json", true, "", false), FakeLoader());
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->nodes.size(), 3u);
  // Variables for a single target do not get in the way.
  EXPECT_TRUE(ChooseAllNodes(Settings("/h", false, "inv.json", false, "node-1", false),
                             FakeLoader())
                  .ok());
  EXPECT_THAT(std::string(ChooseAllNodes(Settings("", false, "", false, "", false), FakeLoader())
                              .status()
                              .message()),
              HasSubstr("--all-nodes needs --cluster"));
  EXPECT_THAT(std::string(ChooseAllNodes(Settings("", false, "inv.json", true, "node-1", true),
                                         FakeLoader())
                              .status()
                              .message()),
              HasSubstr("--all-nodes and --node"));
  EXPECT_THAT(std::string(ChooseAllNodes(Settings("/h", true, "inv.json", true, "", false),
                                         FakeLoader())
                              .status()
                              .message()),
              HasSubstr("--all-nodes and -H/--host"));
}

}  // namespace
}  // namespace berth::cli
