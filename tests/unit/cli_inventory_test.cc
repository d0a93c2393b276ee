// berth CLI: the cluster inventory (deploy/test-cluster's inventory.json): nodes, their sockets
// and TCP endpoints, the TLS files, node lookup. (Choosing between -H, --cluster/--node and
// contexts: cli_target_choice_test.cc.)
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/host_target.h"
#include "cli/inventory.h"
#include "cli/tls_files.h"

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

constexpr char kTlsCluster[] = R"({
  "dir": "/tmp/c",
  "tls": {"ca": "/tmp/c/tls/ca.pem", "cert": "/tmp/c/tls/admin.pem", "key": "tls/admin-key.pem"},
  "underlay": {"netns": "berthc-abc123-ul", "bridge": "ul0", "address": "10.99.0.254"},
  "nodes": [
    {"name": "node-1", "socket": "/tmp/c/node-1/berth.sock", "endpoint": "tcp://10.99.0.1:7443"},
    {"name": "node-2", "socket": "/tmp/c/node-2/berth.sock", "endpoint": "10.99.0.2:7443/"},
    {"name": "node-3", "socket": "/tmp/c/node-3/berth.sock"}
  ]
})";

TEST(ParseInventory, EndpointsAndTls) {
  absl::StatusOr<Inventory> inv = ParseInventory(kTlsCluster, "/tmp/c");
  ASSERT_TRUE(inv.ok()) << inv.status();
  // A relative TLS path is relative to the inventory's directory, like a socket.
  EXPECT_EQ(inv->tls, (TlsFiles{"/tmp/c/tls/ca.pem", "/tmp/c/tls/admin.pem",
                                "/tmp/c/tls/admin-key.pem"}));
  EXPECT_EQ(inv->nodes[0].endpoint, "tcp://10.99.0.1:7443");
  EXPECT_EQ(inv->nodes[1].endpoint, "tcp://10.99.0.2:7443");  // normalised
  EXPECT_EQ(inv->nodes[2].endpoint, "");
  // Without "tls" there are no files.
  EXPECT_TRUE(ParseInventory(kThreeNodes, "/")->tls.empty());
}

TEST(ParseInventory, RejectsBadEndpointsAndTls) {
  const std::map<std::string, std::string> bad = {
      {R"({"nodes": [{"name": "a", "socket": "/s", "endpoint": "unix:///x.sock"}]})",
       "nodes[0] (a): the endpoint must be tcp://ADDRESS:PORT"},
      {R"({"nodes": [{"name": "a", "socket": "/s", "endpoint": "10.0.0.1"}]})",
       "nodes[0] (a): endpoint: invalid agent address \"10.0.0.1\""},
      {R"({"nodes": [{"name": "a", "socket": "/s", "endpoint": 7443}]})",
       "nodes[0].endpoint must be a string"},
      {R"({"tls": "x", "nodes": [{"name": "a", "socket": "/s"}]})", "\"tls\" must be an object"},
      {R"({"tls": {"ca": "/ca", "cert": "/c"}, "nodes": [{"name": "a", "socket": "/s"}]})",
       "tls.key is missing"},
      {R"({"tls": {"ca": 1, "cert": "/c", "key": "/k"}, "nodes": [{"name": "a", "socket": "/s"}]})",
       "tls.ca must be a string"},
      {R"({"underlay": {"netns": "../../etc"}, "nodes": [{"name": "a", "socket": "/s"}]})",
       "underlay.netns must be a name in /run/netns"},
  };
  for (const auto& [json, message] : bad) {
    absl::StatusOr<Inventory> inv = ParseInventory(json, "/x");
    ASSERT_FALSE(inv.ok()) << json;
    EXPECT_THAT(std::string(inv.status().message()), HasSubstr(message)) << json;
  }
}

TEST(NodeEndpoint, TcpWithTheInventorysTlsElseTheSocket) {
  Inventory inv = *ParseInventory(kTlsCluster, "/tmp/c");
  inv.path = "/tmp/c/inventory.json";
  absl::StatusOr<AgentEndpoint> e = NodeEndpoint(inv, inv.nodes[0]);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address.Uri(), "tcp://10.99.0.1:7443");
  EXPECT_EQ(e->address.host, "10.99.0.1");  // the name checked against the agent's certificate
  EXPECT_EQ(e->tls, inv.tls);
  EXPECT_EQ(e->origin, "node node-1 of /tmp/c/inventory.json");
  // Dialled from the underlay namespace, where the endpoints are.
  EXPECT_EQ(e->netns_path, "/run/netns/berthc-abc123-ul");
  // No endpoint: the unix socket, no TLS, no namespace to enter.
  e = NodeEndpoint(inv, inv.nodes[2]);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address.Uri(), "unix:///tmp/c/node-3/berth.sock");
  EXPECT_TRUE(e->tls.empty());
  EXPECT_EQ(e->netns_path, "");
  // An endpoint but no TLS files in the inventory: the socket, as before TCP existed.
  inv.tls = TlsFiles{};
  e = NodeEndpoint(inv, inv.nodes[0]);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address.Uri(), "unix:///tmp/c/node-1/berth.sock");
}

}  // namespace
}  // namespace berth::cli
