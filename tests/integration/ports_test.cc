// Published ports, with real TCP and UDP packets (berth-nettool): reached from the node itself
// (127.0.0.1 and the bridge's gateway address, inside the harness's test host), from another
// machine (a peer namespace dialling the test host's address on their link), and hairpin (a
// container reaching its own published port through the gateway). A port can be published
// once; rules go when the container exits or is removed; bad mappings are INVALID_ARGUMENT and
// leave nothing behind.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/network_support.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kGateway[] = "10.88.0.1";

// TCP on 8080 and UDP on 8081 inside, answered by berth-nettool ("MSG from SRC").
v1::ContainerConfig Server(const std::string& name, const std::vector<v1::PortMapping>& ports,
                           const std::string& network = "") {
  auto config = WithNettool(Busybox({"sh", "-c", "/nettool tcp-serve 8080 & exec /nettool udp-serve 8081"}));
  config.set_name(name);
  config.set_network(network);
  for (const auto& p : ports) *config.add_ports() = p;
  return config;
}

// DNAT rules of the agent's table for `host_port`.
std::vector<std::string> DnatRulesFor(int netns_fd, int host_port) {
  auto table = NftTable(netns_fd);
  if (!table.ok()) return {absl::StrCat("<nft: ", table.status().ToString(), ">")};
  std::vector<std::string> out;
  for (const auto& rule : DnatRules(*table)) {
    if (absl::StrContains(rule, absl::StrCat("dport ", host_port, " "))) out.push_back(rule);
  }
  return out;
}

class Ports : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }

  v1::Container MustServe(v1::ContainerConfig config) {
    auto c = RunAndWaitForLog(agent_, std::move(config), {"listening 8080", "listening 8081"});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Container{};
  }

  // berth-nettool in the test host (the node itself).
  CliResult FromNode(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {NettoolPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    return agent_.RunInHost(argv, 30);
  }

  AgentHarness agent_;
};

TEST_F(Ports, PublishedPortsAnswerOnTheNodeItself) {
  v1::Container server = MustServe(Server("web", {Port("tcp", 18080, 8080), Port("udp", 18081, 8081)}));
  ASSERT_FALSE(server.id().empty());
  const v1::NetworkSettings& ns = server.network_settings();
  ASSERT_EQ(ns.ports_size(), 2) << ns.DebugString();
  EXPECT_EQ(ns.ports(0).protocol(), "tcp");
  EXPECT_EQ(ns.ports(0).host_port(), 18080u);
  EXPECT_EQ(ns.ports(0).container_port(), 8080u);
  EXPECT_EQ(ns.ports(1).protocol(), "udp");
  EXPECT_EQ(ns.ports(1).host_port(), 18081u);
  EXPECT_EQ(ns.ports(1).container_port(), 8081u);

  for (const std::string& address : {std::string("127.0.0.1"), std::string(kGateway)}) {
    SCOPED_TRACE(address);
    CliResult tcp = FromNode({"tcp-ask", address, "18080", "node-tcp", "5"});
    EXPECT_EQ(tcp.exit_code, 0) << tcp.err;
    EXPECT_THAT(tcp.out, StartsWith("node-tcp from "));
    CliResult udp = FromNode({"udp-ask", address, "18081", "node-udp", "5"});
    EXPECT_EQ(udp.exit_code, 0) << udp.err;
    EXPECT_THAT(udp.out, StartsWith("node-udp from "));
  }
  // The container's own ports are not what answered: nothing listens on the host ports.
  CliResult direct = FromNode({"tcp-connect", "127.0.0.1", "8080", "1"});
  EXPECT_NE(direct.exit_code, 0) << "something on the node itself listens on 8080";

  // One DNAT rule set per port, to the container's address.
  for (int port : {18080, 18081}) {
    std::vector<std::string> rules = DnatRulesFor(agent_.netns_fd(), port);
    EXPECT_THAT(rules, Not(IsEmpty())) << "port " << port;
    for (const auto& r : rules) EXPECT_THAT(r, HasSubstr("dnat to " + ns.ip_address() + ":"));
  }
}

TEST_F(Ports, PublishedPortsAnswerAnotherHost) {
  auto peer = PeerNetns::Create(agent_.netns_fd(), 1);
  ASSERT_TRUE(peer.ok()) << peer.status();
  v1::Container server = MustServe(Server("web", {Port("tcp", 18080, 8080), Port("udp", 18081, 8081)}));
  ASSERT_FALSE(server.id().empty());

  std::string nettool = NettoolPath();
  CliResult tcp = peer->Run({nettool, "tcp-ask", peer->host_address(), "18080", "peer-tcp", "5"});
  EXPECT_EQ(tcp.exit_code, 0) << tcp.err;
  CliResult udp = peer->Run({nettool, "udp-ask", peer->host_address(), "18081", "peer-udp", "5"});
  EXPECT_EQ(udp.exit_code, 0) << udp.err;
  // Traffic from other machines keeps its source address (DNAT only, like Docker without its
  // userland proxy).
  EXPECT_EQ(tcp.out, absl::StrCat("peer-tcp from ", peer->address(), "\n"));
  EXPECT_EQ(udp.out, absl::StrCat("peer-udp from ", peer->address(), "\n"));

  // A port nobody published is not forwarded.
  CliResult other = peer->Run({nettool, "tcp-connect", peer->host_address(), "18082", "1"});
  EXPECT_NE(other.exit_code, 0) << other.out;
}

TEST_F(Ports, HairpinThroughTheGateway) {
  v1::Container server = MustServe(Server("web", {Port("tcp", 18080, 8080), Port("udp", 18081, 8081)}));
  ASSERT_FALSE(server.id().empty());
  // The container reaches its own published port.
  auto tcp = agent_.Exec(server.id(), {kNettool, "tcp-ask", kGateway, "18080", "self-tcp", "5"});
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_EQ(tcp->exit_code, 0) << tcp->err;
  EXPECT_THAT(tcp->out, StartsWith("self-tcp from "));
  auto udp = agent_.Exec(server.id(), {kNettool, "udp-ask", kGateway, "18081", "self-udp", "5"});
  ASSERT_TRUE(udp.ok()) << udp.status();
  EXPECT_EQ(udp->exit_code, 0) << udp->err;
  EXPECT_THAT(udp->out, StartsWith("self-udp from "));
  // And a neighbour on the same bridge does too.
  auto neighbour = agent_.RunToExit(WithNettool(Busybox(
      {"sh", "-c", absl::StrCat("/nettool tcp-ask ", kGateway, " 18080 nb-tcp 5 && /nettool udp-ask ", kGateway,
                                " 18081 nb-udp 5")})));
  ASSERT_TRUE(neighbour.ok()) << neighbour.status();
  EXPECT_EQ(neighbour->exit_code, 0) << neighbour->out << neighbour->err;
  EXPECT_THAT(neighbour->out, HasSubstr("nb-tcp from "));
  EXPECT_THAT(neighbour->out, HasSubstr("nb-udp from "));
}

TEST_F(Ports, HostIpLimitsWhereAPortAnswers) {
  auto peer = PeerNetns::Create(agent_.netns_fd(), 2);
  ASSERT_TRUE(peer.ok()) << peer.status();
  v1::Container server = MustServe(Server("web", {Port("tcp", 18090, 8080, peer->host_address())}));
  ASSERT_FALSE(server.id().empty());
  CliResult there = peer->Run({NettoolPath(), "tcp-ask", peer->host_address(), "18090", "on-ip", "5"});
  EXPECT_EQ(there.exit_code, 0) << there.err;
  EXPECT_EQ(there.out, absl::StrCat("on-ip from ", peer->address(), "\n"));
  // Not on the node's other addresses.
  for (const std::string& address : {std::string("127.0.0.1"), std::string(kGateway)}) {
    CliResult elsewhere = FromNode({"tcp-connect", address, "18090", "1"});
    EXPECT_NE(elsewhere.exit_code, 0) << "answered on " << address;
  }
}

// A port published on 127.0.0.1 answers the node only (moby#41872, moby#45610). Another host
// on a link of the node reaches it neither by sending packets addressed to 127.0.0.1 to the
// node, nor through a route to the container's own address; the same route does reach a port
// of a container that published nothing, so the drop is what stops it.
TEST_F(Ports, LoopbackPortIsNotReachableFromAnotherHost) {
  auto peer = PeerNetns::Create(agent_.netns_fd(), 4);
  ASSERT_TRUE(peer.ok()) << peer.status();
  v1::Container local = MustServe(Server("local", {Port("tcp", 18100, 8080, "127.0.0.1")}));
  v1::Container plain = MustServe(Server("plain", {}));
  ASSERT_FALSE(local.id().empty());
  ASSERT_FALSE(plain.id().empty());
  const std::string nettool = NettoolPath();

  CliResult node = FromNode({"tcp-ask", "127.0.0.1", "18100", "from-node", "5"});
  EXPECT_EQ(node.exit_code, 0) << node.err;
  EXPECT_THAT(node.out, StartsWith("from-node from "));

  auto in_peer = [&](const std::vector<std::string>& argv) {
    CliResult r = peer->Run(argv);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(argv, " ") << ": " << r.err;
  };
  // Through a route to the containers' subnet.
  in_peer({"/sbin/ip", "route", "add", "10.88.0.0/16", "via", peer->host_address()});
  CliResult routed_plain = peer->Run({nettool, "tcp-ask", plain.network_settings().ip_address(), "8080", "routed", "5"});
  EXPECT_EQ(routed_plain.exit_code, 0) << routed_plain.err;
  EXPECT_EQ(routed_plain.out, absl::StrCat("routed from ", peer->address(), "\n"));
  CliResult routed_local = peer->Run({nettool, "tcp-connect", local.network_settings().ip_address(), "8080", "2"});
  EXPECT_NE(routed_local.exit_code, 0) << routed_local.out;

  // Packets for 127.0.0.1 sent to the node: the peer's own loopback goes, and 127.0.0.1 is
  // routed through the node (route_localnet lets the peer send and take such packets).
  in_peer({"/sbin/ip", "link", "set", "lo", "down"});
  in_peer({"/sbin/ip", "addr", "flush", "dev", "lo"});
  in_peer({"/sbin/sysctl", "-q", "-w", "net.ipv4.conf.eth0.route_localnet=1"});
  in_peer({"/sbin/ip", "route", "add", "127.0.0.1/32", "via", peer->host_address(), "src", peer->address()});
  CliResult forged = peer->Run({nettool, "tcp-connect", "127.0.0.1", "18100", "2"});
  EXPECT_NE(forged.exit_code, 0) << forged.out;
}

// The bridges carry route_localnet (the node's own 127.0.0.1 connections to published ports
// come back through them), which must not let a container reach the node's loopback services
// with packets it addresses to 127.0.0.1 (as in kube-proxy's CVE-2020-8558). The container
// here may route 127.0.0.1 to its gateway (NET_ADMIN, route_localnet in its own namespace);
// the same listener answers it at the gateway's address.
TEST_F(Ports, ContainerCannotReachTheNodesLoopback) {
  CliResult listener;
  std::thread serve([&] { listener = agent_.RunInHost({NettoolPath(), "tcp-serve", "18300"}, 8); });
  auto config = WithNettool(Busybox(
      {"sh", "-c",
       absl::StrCat("ip link set lo down && ip addr flush dev lo && ip route add 127.0.0.1/32 via ", kGateway,
                    " && { /nettool tcp-connect ", kGateway, " 18300 4; echo gateway=$?; ",
                    "/nettool tcp-connect 127.0.0.1 18300 2; echo loopback=$?; }")}));
  config.mutable_security()->add_cap_add("NET_ADMIN");
  (*config.mutable_sysctls())["net.ipv4.conf.all.route_localnet"] = "1";
  auto probe = agent_.RunToExit(config);
  serve.join();
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_THAT(probe->out, HasSubstr("gateway=0\n")) << probe->out << probe->err << listener.out;
  EXPECT_THAT(probe->out, HasSubstr("loopback=1\n")) << probe->out << probe->err << listener.out;
}

TEST_F(Ports, APortCanBePublishedOnce) {
  v1::Container first = MustServe(Server("first", {Port("tcp", 18080, 8080), Port("udp", 18081, 8081)}));
  ASSERT_FALSE(first.id().empty());
  const size_t leases = LeaseFiles(agent_.root()).size();

  struct Case {
    std::string what;
    v1::PortMapping port;
  };
  for (const Case& c : std::vector<Case>{{"same tcp port, any address", Port("tcp", 18080, 9000)},
                                         {"same tcp port, a specific address", Port("tcp", 18080, 9000, "127.0.0.1")},
                                         {"same udp port", Port("udp", 18081, 9000)},
                                         {"protocol left empty means tcp", Port("", 18080, 9000)}}) {
    SCOPED_TRACE(c.what);
    auto second = agent_.Create(Server("", {c.port}));
    EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  }
  // Nothing of the refused containers is left.
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, SizeIs(1));
  EXPECT_EQ(LeaseFiles(agent_.root()).size(), leases);
  EXPECT_THAT(DnatRulesFor(agent_.netns_fd(), 9000), IsEmpty());

  // The other protocol on the same number is a different port.
  auto udp_twin = agent_.Run(Server("udp-twin", {Port("udp", 18080, 8081)}));
  EXPECT_TRUE(udp_twin.ok()) << udp_twin.status();

  // A specific address first: the same address or any address collide, another does not.
  auto specific = agent_.Run(Server("specific", {Port("tcp", 18100, 8080, "127.0.0.1")}));
  ASSERT_TRUE(specific.ok()) << specific.status();
  auto any = agent_.Create(Server("", {Port("tcp", 18100, 8080)}));
  EXPECT_TRUE(absl::IsAlreadyExists(any.status())) << any.status();
  auto same = agent_.Create(Server("", {Port("tcp", 18100, 8080, "127.0.0.1")}));
  EXPECT_TRUE(absl::IsAlreadyExists(same.status())) << same.status();
  auto other_ip = agent_.Create(Server("other-ip", {Port("tcp", 18100, 8080, kGateway)}));
  EXPECT_TRUE(other_ip.ok()) << other_ip.status();

  // The first still answers; once it is removed its port is free for a newcomer.
  CliResult still = FromNode({"tcp-ask", "127.0.0.1", "18080", "still", "5"});
  EXPECT_EQ(still.exit_code, 0) << still.err;
  ASSERT_TRUE(agent_.Remove(first.id()).ok());
  v1::Container next = MustServe(Server("next", {Port("tcp", 18080, 8080)}));
  ASSERT_FALSE(next.id().empty());
  CliResult reached = FromNode({"tcp-ask", "127.0.0.1", "18080", "next", "5"});
  EXPECT_EQ(reached.exit_code, 0) << reached.err;
  for (const std::string& rule : DnatRulesFor(agent_.netns_fd(), 18080)) {
    if (absl::StrContains(rule, "tcp dport")) {
      EXPECT_THAT(rule, HasSubstr("dnat to " + next.network_settings().ip_address() + ":"));
    }
  }
}

TEST_F(Ports, RulesGoWhenTheContainerExitsOrIsRemoved) {
  v1::Container exits = MustServe(Server("exits", {Port("tcp", 18200, 8080)}));
  v1::Container removed = MustServe(Server("removed", {Port("tcp", 18201, 8080)}));
  ASSERT_FALSE(exits.id().empty());
  ASSERT_FALSE(removed.id().empty());
  EXPECT_THAT(DnatRulesFor(agent_.netns_fd(), 18200), Not(IsEmpty()));
  EXPECT_THAT(DnatRulesFor(agent_.netns_fd(), 18201), Not(IsEmpty()));

  ASSERT_TRUE(agent_.KillContainer(exits.id(), SIGKILL).ok());
  ASSERT_TRUE(agent_.Wait(exits.id(), 30).ok());
  EXPECT_TRUE(Eventually([&] { return DnatRulesFor(agent_.netns_fd(), 18200).empty(); }))
      << absl::StrJoin(DnatRulesFor(agent_.netns_fd(), 18200), "\n");
  CliResult gone = FromNode({"tcp-connect", "127.0.0.1", "18200", "1"});
  EXPECT_NE(gone.exit_code, 0);

  ASSERT_TRUE(agent_.Remove(removed.id()).ok());
  EXPECT_THAT(DnatRulesFor(agent_.netns_fd(), 18201), IsEmpty());
  EXPECT_THAT(DnatRulesFor(agent_.netns_fd(), 18200), IsEmpty());
}

TEST_F(Ports, BadMappingsAreInvalidArgument) {
  v1::Container target = MustServe(Server("target", {}));
  ASSERT_FALSE(target.id().empty());
  const std::vector<std::string> leases = LeaseFiles(agent_.root());

  struct Case {
    std::string what;
    v1::PortMapping port;
    std::string network;
  };
  for (const Case& c : std::vector<Case>{
           {"host port 0", Port("tcp", 0, 8080), ""},
           {"host port 65536", Port("tcp", 65536, 8080), ""},
           {"container port 0", Port("tcp", 18300, 0), ""},
           {"container port 70000", Port("udp", 18300, 70000), ""},
           {"protocol sctp", Port("sctp", 18300, 8080), ""},
           {"host ip not an address", Port("tcp", 18300, 8080, "not-an-ip"), ""},
           {"network none", Port("tcp", 18300, 8080), "none"},
           {"network host", Port("tcp", 18300, 8080), "host"},
           {"network container:", Port("tcp", 18300, 8080), "container:target"},
       }) {
    SCOPED_TRACE(c.what);
    auto config = Busybox({"true"});
    config.set_network(c.network);
    *config.add_ports() = c.port;
    auto created = agent_.Create(config);
    EXPECT_TRUE(absl::IsInvalidArgument(created.status())) << created.status();
  }
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, SizeIs(1));
  EXPECT_EQ(LeaseFiles(agent_.root()), leases);
  EXPECT_THAT(LinkNamesWithPrefix(agent_.netns_fd(), "bth"), SizeIs(1));
  auto table = NftTable(agent_.netns_fd());
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(DnatRules(*table), IsEmpty());
}

}  // namespace
}  // namespace berth::testing
