// berth CLI: which agent a command talks to. -H/--host and --cluster/--node (flags, then the
// environment), then the context (BERTH_CONTEXT, else the current one), then the default socket;
// the TLS files of a tcp:// address file by file from flags, environment, context.
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/contexts.h"
#include "cli/host_target.h"
#include "cli/inventory.h"
#include "cli/target_choice.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

constexpr char kThreeNodes[] = R"({
  "dir": "/tmp/berth-cluster",
  "nodes": [
    {"name": "node-1", "socket": "/tmp/berth-cluster/node-1/berth.sock"},
    {"name": "node-2", "socket": "/tmp/berth-cluster/node-2/berth.sock"},
    {"name": "node-3", "socket": "node-3/berth.sock"}
  ]
})";

constexpr char kTlsCluster[] = R"({
  "tls": {"ca": "/c/ca.pem", "cert": "/c/admin.pem", "key": "/c/admin-key.pem"},
  "nodes": [
    {"name": "node-1", "socket": "/c/node-1.sock", "endpoint": "tcp://10.99.0.1:7443"},
    {"name": "node-2", "socket": "/c/node-2.sock", "endpoint": "tcp://10.99.0.2:7443"}
  ]
})";

// Serves kThreeNodes for "inv.json", a one-node cluster for "one.json", kTlsCluster for
// "tls.json".
InventoryLoader FakeLoader(int* loads = nullptr) {
  return [loads](const std::string& path) -> absl::StatusOr<Inventory> {
    if (loads != nullptr) ++*loads;
    absl::StatusOr<Inventory> inv;
    if (path == "inv.json") {
      inv = ParseInventory(kThreeNodes, "/base");
    } else if (path == "one.json") {
      inv = ParseInventory(R"({"nodes": [{"name": "solo", "socket": "/solo.sock"}]})", "/");
    } else if (path == "tls.json") {
      inv = ParseInventory(kTlsCluster, "/c");
    } else {
      return absl::NotFoundError("cannot read cluster inventory " + path);
    }
    if (inv.ok()) inv->path = path;
    return inv;
  };
}

const TlsFiles kProdTls{"/ctx/ca.pem", "/ctx/cert.pem", "/ctx/key.pem"};

// The contexts "prod" (tcp) and "local" (a socket); `current` is what config.json says.
ContextResolver FakeContexts(std::string current = "default", int* calls = nullptr,
                             std::string* asked = nullptr) {
  return [current, calls, asked](const std::string& override_name) -> absl::StatusOr<Context> {
    if (calls != nullptr) ++*calls;
    if (asked != nullptr) *asked = override_name;
    const std::string name = override_name.empty() ? current : override_name;
    if (name == "default") return DefaultContext();
    if (name == "prod") return Context{"prod", "", "tcp://prod.example:7443", kProdTls};
    if (name == "local") return Context{"local", "", "unix:///local.sock", TlsFiles{}};
    return absl::NotFoundError("no such context: \"" + name + "\"");
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

TargetSettings HostSettings(std::string host, bool flag) {
  return Settings(std::move(host), flag, "", false, "", false);
}

// The chosen address, or "error: <message>".
std::string Target(const TargetSettings& s, const ContextResolver& contexts = FakeContexts()) {
  absl::StatusOr<AgentEndpoint> e = ChooseAgentEndpoint(s, FakeLoader(), contexts);
  return e.ok() ? e->address.Uri() : "error: " + std::string(e.status().message());
}

TEST(ChooseAgentEndpoint, HostOrDefault) {
  int loads = 0;
  absl::StatusOr<AgentEndpoint> e =
      ChooseAgentEndpoint(Settings("", false, "", false, "", false), FakeLoader(&loads),
                          FakeContexts());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address.Uri(), kDefaultHost);
  EXPECT_EQ(e->origin, "context \"default\"");
  EXPECT_EQ(Target(HostSettings("/a.sock", true)), "unix:///a.sock");
  EXPECT_EQ(Target(HostSettings("/a.sock", false)), "unix:///a.sock");
  EXPECT_EQ(loads, 0);  // no cluster, nothing read
}

TEST(ChooseAgentEndpoint, NodeOfTheCluster) {
  EXPECT_EQ(Target(Settings("", false, "inv.json", true, "node-2", true)),
            "unix:///tmp/berth-cluster/node-2/berth.sock");
  EXPECT_EQ(Target(Settings("", false, "inv.json", false, "node-3", false)),
            "unix:///base/node-3/berth.sock");
  // One node: no --node needed.
  EXPECT_EQ(Target(Settings("", false, "one.json", true, "", false)), "unix:///solo.sock");
}

TEST(ChooseAgentEndpoint, NodeWithAnEndpointUsesTheInventorysTls) {
  TargetSettings s = Settings("", false, "tls.json", true, "node-2", true);
  s.tls_env = TlsFiles{"/env/ca.pem", "/env/cert.pem", "/env/key.pem"};  // ignored for a node
  absl::StatusOr<AgentEndpoint> e = ChooseAgentEndpoint(s, FakeLoader(), FakeContexts("prod"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address.Uri(), "tcp://10.99.0.2:7443");
  EXPECT_EQ(e->tls, (TlsFiles{"/c/ca.pem", "/c/admin.pem", "/c/admin-key.pem"}));
  // TLS flags cannot go with a node: the inventory names the files.
  s.tls_flags.cert = "/mine.pem";
  EXPECT_EQ(Target(s), "error: --tlscert (BERTH_TLS_CERT) cannot be used with --node: the "
                       "cluster inventory names the TLS files");
}

TEST(ChooseAgentEndpoint, Errors) {
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

TEST(ChooseAgentEndpoint, AFlagBeatsTheEnvironment) {
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

TEST(ChooseAgentEndpoint, TheEnvironmentBeatsTheContextWhichBeatsTheDefault) {
  int calls = 0;
  // A host (flag or variable) means the context is not even read.
  EXPECT_EQ(Target(HostSettings("/env.sock", false), FakeContexts("prod", &calls)),
            "unix:///env.sock");
  EXPECT_EQ(Target(HostSettings("/flag.sock", true), FakeContexts("prod", &calls)),
            "unix:///flag.sock");
  EXPECT_EQ(Target(Settings("", false, "inv.json", false, "node-1", false),
                   FakeContexts("prod", &calls)),
            "unix:///tmp/berth-cluster/node-1/berth.sock");
  EXPECT_EQ(calls, 0);
  // Nothing else: the current context, with its TLS files.
  absl::StatusOr<AgentEndpoint> e =
      ChooseAgentEndpoint(HostSettings("", false), FakeLoader(), FakeContexts("prod", &calls));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address.Uri(), "tcp://prod.example:7443");
  EXPECT_EQ(e->address.host, "prod.example");
  EXPECT_EQ(e->tls, kProdTls);
  EXPECT_EQ(e->origin, "context \"prod\"");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Target(HostSettings("", false), FakeContexts("local")), "unix:///local.sock");
  EXPECT_EQ(Target(HostSettings("", false), FakeContexts("default")), kDefaultHost);
}

TEST(ChooseAgentEndpoint, BerthContextOverridesTheCurrentOne) {
  std::string asked;
  TargetSettings s = HostSettings("", false);
  s.context = "local";
  absl::StatusOr<AgentEndpoint> e =
      ChooseAgentEndpoint(s, FakeLoader(), FakeContexts("prod", nullptr, &asked));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(asked, "local");
  EXPECT_EQ(e->address.Uri(), "unix:///local.sock");
  EXPECT_EQ(e->origin, "context \"local\" (BERTH_CONTEXT)");
  // BERTH_HOST still beats BERTH_CONTEXT.
  s.host = "/env.sock";
  EXPECT_EQ(Target(s, FakeContexts("prod")), "unix:///env.sock");
  // A context that cannot be had is the error.
  s.host.clear();
  s.context = "gone";
  EXPECT_EQ(Target(s), "error: no such context: \"gone\"");
}

TEST(ChooseAgentEndpoint, TlsFilesFileByFileFlagsThenEnvironmentThenContext) {
  TargetSettings s = HostSettings("", false);
  s.tls_flags.cert = "/flag/cert.pem";
  s.tls_env.cert = "/env/cert.pem";
  s.tls_env.key = "/env/key.pem";
  absl::StatusOr<AgentEndpoint> e = ChooseAgentEndpoint(s, FakeLoader(), FakeContexts("prod"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->tls, (TlsFiles{"/ctx/ca.pem", "/flag/cert.pem", "/env/key.pem"}));

  // A tcp:// host from the environment takes files from flags and environment, never from a
  // context.
  s = HostSettings("tcp://10.0.0.7:7443", false);
  s.tls_flags = TlsFiles{"/f/ca.pem", "", ""};
  s.tls_env = TlsFiles{"/e/ca.pem", "/e/cert.pem", "/e/key.pem"};
  e = ChooseAgentEndpoint(s, FakeLoader(), FakeContexts("prod"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->tls, (TlsFiles{"/f/ca.pem", "/e/cert.pem", "/e/key.pem"}));
  EXPECT_EQ(e->origin, "BERTH_HOST");
}

TEST(ChooseAgentEndpoint, TcpNeedsTlsAndASocketRefusesIt) {
  TargetSettings s = HostSettings("tcp://node:7443", true);
  s.tls_flags.ca = "/ca.pem";
  EXPECT_EQ(Target(s), "error: --host: tcp://node:7443 needs mutual TLS (there is no plaintext "
                       "TCP): missing --tlscert (BERTH_TLS_CERT), --tlskey (BERTH_TLS_KEY)");
  s = HostSettings("unix:///x.sock", true);
  s.tls_env.key = "/key.pem";
  EXPECT_EQ(Target(s), "error: --host: unix:///x.sock is a local socket and TLS files are only "
                       "for tcp:// addresses: drop --tlskey (BERTH_TLS_KEY)");
  // The default context is a socket too: TLS variables without a tcp:// host are an error.
  s = HostSettings("", false);
  s.tls_env = TlsFiles{"/ca.pem", "/cert.pem", "/key.pem"};
  EXPECT_THAT(Target(s), HasSubstr("context \"default\": unix:///run/berth/berth.sock is a local "
                                   "socket and TLS files are only for tcp:// addresses"));
  EXPECT_THAT(Target(HostSettings("ftp://x:1", true)),
              HasSubstr("--host: invalid agent address \"ftp://x:1\": unsupported scheme"));
}

TEST(ChooseAllNodes, NeedsAClusterAndNoSingleTarget) {
  absl::StatusOr<Inventory> inv =
      ChooseAllNodes(Settings("", false, "inv.json", true, "", false), FakeLoader());
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->nodes.size(), 3u);
  // Variables for a single target do not get in the way.
  TargetSettings env = Settings("/h", false, "inv.json", false, "node-1", false);
  env.tls_env.ca = "/ca.pem";
  EXPECT_TRUE(ChooseAllNodes(env, FakeLoader()).ok());
  auto message = [](const TargetSettings& s) {
    return std::string(ChooseAllNodes(s, FakeLoader()).status().message());
  };
  EXPECT_THAT(message(Settings("", false, "", false, "", false)),
              HasSubstr("--all-nodes needs --cluster"));
  EXPECT_THAT(message(Settings("", false, "inv.json", true, "node-1", true)),
              HasSubstr("--all-nodes and --node"));
  EXPECT_THAT(message(Settings("/h", true, "inv.json", true, "", false)),
              HasSubstr("--all-nodes and -H/--host"));
  TargetSettings flags = Settings("", false, "tls.json", true, "", false);
  flags.tls_flags.key = "/k.pem";
  EXPECT_THAT(message(flags), HasSubstr("--tlskey (BERTH_TLS_KEY) cannot be used with --all-nodes"));
}

}  // namespace
}  // namespace berth::cli
