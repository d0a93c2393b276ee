// The Networks service against the test host: Create makes a bridge with the gateway address,
// List/Inspect report what exists, Remove takes the bridge away. Bad requests get their codes
// (INVALID_ARGUMENT, ALREADY_EXISTS, FAILED_PRECONDITION, NOT_FOUND) and leave no bridge; a
// network in use and the default network cannot be removed; networks survive an agent restart.
#include <arpa/inet.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"
#include "tests/integration/support/network_support.h"

namespace berth::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Names of the bridges in the test host.
std::set<std::string> Bridges(int netns_fd) {
  std::set<std::string> out;
  auto links = Links(netns_fd);
  EXPECT_TRUE(links.ok()) << links.status();
  if (links.ok()) {
    for (const auto& l : *links) {
      if (l.kind == "bridge") out.insert(l.name);
    }
  }
  return out;
}

std::set<std::string> NetworkNames(AgentHarness& agent) {
  std::set<std::string> out;
  auto list = agent.ListNetworks();
  EXPECT_TRUE(list.ok()) << list.status();
  if (list.ok()) {
    for (const auto& n : *list) out.insert(n.name());
  }
  return out;
}

// "a.b.c.d/len" -> (network as host-order integer, len); len -1 when unparsable.
std::pair<uint32_t, int> ParseCidr(const std::string& cidr) {
  std::vector<std::string> parts = absl::StrSplit(cidr, '/');
  in_addr a{};
  if (parts.size() != 2 || inet_pton(AF_INET, parts[0].c_str(), &a) != 1) return {0, -1};
  return {ntohl(a.s_addr), std::stoi(parts[1])};
}

bool Overlap(const std::string& x, const std::string& y) {
  auto [xa, xl] = ParseCidr(x);
  auto [ya, yl] = ParseCidr(y);
  int len = std::min(xl, yl);
  uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  return (xa & mask) == (ya & mask);
}

class NetworkApi : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }
  AgentHarness agent_;
};

TEST_F(NetworkApi, DefaultNetworkIsListed) {
  auto list = agent_.ListNetworks();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  const v1::Network& def = (*list)[0];
  EXPECT_EQ(def.name(), "bridge");
  EXPECT_TRUE(def.is_default());
  EXPECT_TRUE(IsHexId(def.id())) << def.id();
  EXPECT_EQ(def.driver(), "bridge");
  EXPECT_EQ(def.bridge(), "berth0");
  EXPECT_EQ(def.subnet(), "10.88.0.0/16");
  EXPECT_EQ(def.gateway(), "10.88.0.1");
  EXPECT_THAT(LinkAddresses(agent_.netns_fd(), "berth0"), ElementsAre("10.88.0.1/16"));
  auto by_name = agent_.InspectNetwork("bridge");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->id(), def.id());
}

TEST_F(NetworkApi, CreateListInspectRemove) {
  auto created = agent_.CreateNetwork("api-net", "10.92.0.0/24");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(IsHexId(created->id())) << created->id();
  EXPECT_EQ(created->name(), "api-net");
  EXPECT_EQ(created->driver(), "bridge");
  EXPECT_EQ(created->subnet(), "10.92.0.0/24");
  EXPECT_EQ(created->gateway(), "10.92.0.1");
  EXPECT_FALSE(created->is_default());
  EXPECT_GT(created->created_at().seconds(), 0);
  EXPECT_THAT(created->containers(), IsEmpty());
  ASSERT_FALSE(created->bridge().empty());
  EXPECT_EQ(created->bridge(), kNamedBridgePrefix + created->id().substr(0, 12)) << "bridge name";
  EXPECT_LE(created->bridge().size(), 15u);
  EXPECT_THAT(LinkAddresses(agent_.netns_fd(), created->bridge()), ElementsAre("10.92.0.1/24"));

  EXPECT_EQ(NetworkNames(agent_), (std::set<std::string>{"bridge", "api-net"}));
  for (const std::string& ref : {std::string("api-net"), created->id(), created->id().substr(0, 10)}) {
    auto inspected = agent_.InspectNetwork(ref);
    ASSERT_TRUE(inspected.ok()) << ref << ": " << inspected.status();
    EXPECT_EQ(inspected->id(), created->id());
    EXPECT_EQ(inspected->subnet(), "10.92.0.0/24");
  }

  // A container on it is listed by the network while it exists.
  auto config = Busybox({"sleep", "300"});
  config.set_network(created->id());  // by id works like by name
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->network_settings().network(), "api-net");
  auto with = agent_.InspectNetwork("api-net");
  ASSERT_TRUE(with.ok());
  EXPECT_THAT(with->containers(), ElementsAre(c->id()));
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
  with = agent_.InspectNetwork("api-net");
  ASSERT_TRUE(with.ok());
  EXPECT_THAT(with->containers(), IsEmpty());

  ASSERT_TRUE(agent_.RemoveNetwork("api-net").ok());
  EXPECT_FALSE(LinkExists(agent_.netns_fd(), created->bridge())) << "bridge left after Remove";
  EXPECT_TRUE(absl::IsNotFound(agent_.InspectNetwork("api-net").status()));
  EXPECT_TRUE(absl::IsNotFound(agent_.RemoveNetwork("api-net")));
  EXPECT_EQ(NetworkNames(agent_), (std::set<std::string>{"bridge"}));
  // Its name and subnet can be used again.
  auto again = agent_.CreateNetwork("api-net", "10.92.0.0/24");
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST_F(NetworkApi, SubnetIsChosenWhenNotGiven) {
  auto a = agent_.CreateNetwork("auto-a");
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = agent_.CreateNetwork("auto-b");
  ASSERT_TRUE(b.ok()) << b.status();
  for (const v1::Network& n : {*a, *b}) {
    auto [addr, len] = ParseCidr(n.subnet());
    EXPECT_EQ(len, 24) << n.subnet();
    // 10.89.0.0/24 .. 10.127.255.0/24
    EXPECT_GE(addr, (10u << 24) | (89u << 16)) << n.subnet();
    EXPECT_LE(addr, (10u << 24) | (127u << 16) | (255u << 8)) << n.subnet();
    EXPECT_FALSE(Overlap(n.subnet(), "10.88.0.0/16")) << n.subnet();
    // The gateway is the subnet's first address.
    in_addr gw{};
    ASSERT_EQ(inet_pton(AF_INET, n.gateway().c_str(), &gw), 1) << n.gateway();
    EXPECT_EQ(ntohl(gw.s_addr), addr + 1) << n.gateway();
    EXPECT_THAT(LinkAddresses(agent_.netns_fd(), n.bridge()), ElementsAre(n.gateway() + "/24"));
  }
  EXPECT_FALSE(Overlap(a->subnet(), b->subnet())) << a->subnet() << " " << b->subnet();
  // A container gets an address there.
  auto config = Busybox({"sleep", "300"});
  config.set_network("auto-b");
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(Overlap(c->network_settings().ip_address() + "/32", b->subnet())) << c->network_settings().DebugString();
}

TEST_F(NetworkApi, BadRequestsGetTheirCodeAndLeaveNoBridge) {
  ASSERT_TRUE(agent_.CreateNetwork("taken", "10.93.0.0/24").ok());
  const std::set<std::string> bridges = Bridges(agent_.netns_fd());
  const std::set<std::string> names = NetworkNames(agent_);
  ASSERT_EQ(bridges.size(), 2u) << absl::StrJoin(bridges, ", ");

  struct Case {
    std::string what, name, subnet, gateway;
    absl::StatusCode code;
    // A second acceptable code: a reserved name may be refused as taken or as invalid.
    absl::StatusCode or_code = absl::StatusCode::kOk;
  };
  const std::vector<Case> cases = {
      {"duplicate name", "taken", "10.94.0.0/24", "", absl::StatusCode::kAlreadyExists},
      {"the default's name", "bridge", "10.94.0.0/24", "", absl::StatusCode::kAlreadyExists,
       absl::StatusCode::kInvalidArgument},
      {"a mode's name: none", "none", "10.94.0.0/24", "", absl::StatusCode::kInvalidArgument,
       absl::StatusCode::kAlreadyExists},
      {"a mode's name: host", "host", "10.94.0.0/24", "", absl::StatusCode::kInvalidArgument,
       absl::StatusCode::kAlreadyExists},
      {"a mode's syntax: container:", "container:x", "10.94.0.0/24", "", absl::StatusCode::kInvalidArgument},
      {"overlaps the default network", "ov1", "10.88.5.0/24", "", absl::StatusCode::kFailedPrecondition},
      {"contains the default network", "ov2", "10.0.0.0/8", "", absl::StatusCode::kFailedPrecondition},
      {"overlaps another network", "ov3", "10.93.0.128/25", "", absl::StatusCode::kFailedPrecondition},
      {"no prefix length", "bad1", "10.94.0.0", "", absl::StatusCode::kInvalidArgument},
      {"prefix length 33", "bad2", "10.94.0.0/33", "", absl::StatusCode::kInvalidArgument},
      {"not an address", "bad3", "banana/24", "", absl::StatusCode::kInvalidArgument},
      {"octet out of range", "bad4", "10.300.0.0/24", "", absl::StatusCode::kInvalidArgument},
      {"gateway outside the subnet", "bad5", "10.94.0.0/24", "10.95.0.1", absl::StatusCode::kInvalidArgument},
      {"gateway not an address", "bad6", "10.94.0.0/24", "gw", absl::StatusCode::kInvalidArgument},
      {"bad name", "-starts-with-dash", "10.94.0.0/24", "", absl::StatusCode::kInvalidArgument},
      {"name with a slash", "a/b", "10.94.0.0/24", "", absl::StatusCode::kInvalidArgument},
      {"empty name", "", "10.94.0.0/24", "", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto n = agent_.CreateNetwork(c.name, c.subnet, c.gateway);
    EXPECT_TRUE(n.status().code() == c.code || (c.or_code != absl::StatusCode::kOk && n.status().code() == c.or_code))
        << "expected " << absl::StatusCodeToString(c.code) << ", got " << n.status();
  }
  EXPECT_EQ(Bridges(agent_.netns_fd()), bridges) << "a refused network left a bridge";
  EXPECT_EQ(NetworkNames(agent_), names);
  int network_dirs = 0;
  for (const std::string& entry : DirEntries(agent_.root() + "/networks")) network_dirs += IsHexId(entry) ? 1 : 0;
  EXPECT_EQ(network_dirs, 2) << "state dirs of networks: "
                             << absl::StrJoin(DirEntries(agent_.root() + "/networks"), " ");

  EXPECT_TRUE(absl::IsNotFound(agent_.InspectNetwork("no-such-network").status()));
  EXPECT_TRUE(absl::IsNotFound(agent_.RemoveNetwork("no-such-network")));
}

TEST_F(NetworkApi, DefaultNetworkCannotBeRemoved) {
  auto def = agent_.InspectNetwork("bridge");
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(agent_.RemoveNetwork("bridge")));
  EXPECT_TRUE(absl::IsFailedPrecondition(agent_.RemoveNetwork(def->id())));
  EXPECT_TRUE(LinkExists(agent_.netns_fd(), "berth0"));
  EXPECT_TRUE(agent_.InspectNetwork("bridge").ok());
}

TEST_F(NetworkApi, NetworkInUseCannotBeRemovedUntilItsContainerIs) {
  auto net = agent_.CreateNetwork("busy", "10.96.0.0/24");
  ASSERT_TRUE(net.ok()) << net.status();
  auto config = Busybox({"sleep", "300"});
  config.set_network("busy");
  config.mutable_security()->add_cap_add("NET_RAW");  // busybox's ping needs a raw socket
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(agent_.RemoveNetwork("busy")));
  EXPECT_TRUE(LinkExists(agent_.netns_fd(), net->bridge()));
  // Still usable after the refusal.
  auto ping = agent_.Exec(c->id(), {"ping", "-c", "1", "-W", "2", "10.96.0.1"});
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ(ping->exit_code, 0) << ping->out << ping->err;

  // An exited container still holds its address: still in use.
  ASSERT_TRUE(agent_.Stop(c->id(), 1).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(agent_.RemoveNetwork("busy")));

  ASSERT_TRUE(agent_.Remove(c->id()).ok());
  ASSERT_TRUE(agent_.RemoveNetwork("busy").ok());
  EXPECT_FALSE(LinkExists(agent_.netns_fd(), net->bridge())) << net->bridge() << " left in the test host";
  EXPECT_THAT(DirEntries(agent_.root() + "/networks/" + net->id()), IsEmpty());
}

TEST_F(NetworkApi, NetworksSurviveAnAgentRestart) {
  auto net = agent_.CreateNetwork("lasting", "10.97.0.0/24");
  ASSERT_TRUE(net.ok()) << net.status();
  auto server_config = WithNettool(Busybox({"/nettool", "tcp-serve", "8000"}));
  server_config.set_network("lasting");
  auto server = RunAndWaitForLog(agent_, server_config, {"listening 8000"});
  ASSERT_TRUE(server.ok()) << server.status();

  agent_.Restart();
  auto after = agent_.InspectNetwork("lasting");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->id(), net->id());
  EXPECT_EQ(after->subnet(), "10.97.0.0/24");
  EXPECT_THAT(after->containers(), ElementsAre(server->id()));
  EXPECT_THAT(LinkAddresses(agent_.netns_fd(), net->bridge()), ElementsAre("10.97.0.1/24"));

  // The server still answers a newcomer on its network, who gets a different address.
  auto client_config = WithNettool(Busybox(
      {kNettool, "tcp-ask", server->network_settings().ip_address(), "8000", "after-restart", "10"}));
  client_config.set_network("lasting");
  auto client = agent_.RunToExit(client_config);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(client->exit_code, 0) << client->err;
  EXPECT_THAT(client->out, HasSubstr("after-restart from 10.97.0."));
  EXPECT_THAT(client->out, ::testing::Not(HasSubstr(server->network_settings().ip_address() + "\n")));
  EXPECT_THAT(NetworkNames(agent_), UnorderedElementsAre("bridge", "lasting"));
}

}  // namespace
}  // namespace berth::testing
