// IPv6 networks, with real packets: a network made with --ipv6 gives its containers v6
// addresses and a v6 default route; TCP crosses between two containers over v6; a published
// port answers over v6 on the node and from a peer host (a peer namespace with v6 addresses on
// its link to the test host); traffic a container starts to the peer leaves masqueraded. The
// agent's --ipv6 makes the default network dual-stack with a ULA /64 it keeps across restarts.
// Bad v6 input is refused with nothing made.
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
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
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kNettoolInContainer[] = "/nettool";

v1::ContainerConfig OnNetwork(v1::ContainerConfig config, const std::string& network) {
  config.set_network(network);
  return config;
}

TEST(Ipv6, NetworkGivesContainersAddressesRoutesAndPorts) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  CliResult made =
      agent.Cli({"network", "create", "--ipv6", "--subnet", "fd00:b1::/64", "--subnet", "10.91.0.0/24", "v6net"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto network = agent.InspectNetwork("v6net");
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_TRUE(network->ipv6());
  EXPECT_EQ(network->ipv6_subnet(), "fd00:b1::/64");
  EXPECT_EQ(network->ipv6_gateway(), "fd00:b1::1");
  CliResult ls = agent.Cli({"network", "ls", "--format", "{{.Name}} {{.IPv6}}"});
  EXPECT_THAT(ls.out, HasSubstr("v6net true\n"));

  auto server_config = WithNettool(Busybox({"sh", "-c", "exec /nettool tcp-serve 8080"}));
  server_config.set_network("v6net");
  *server_config.add_ports() = Port("tcp", 18200, 8080);
  auto server = RunAndWaitForLog(agent, server_config, {"listening 8080"});
  ASSERT_TRUE(server.ok()) << server.status();
  const v1::NetworkSettings& ns = server->network_settings();
  EXPECT_EQ(ns.ip_address(), "10.91.0.2");
  EXPECT_EQ(ns.ipv6_address(), "fd00:b1::2");  // the v4 address's offset, in the v6 prefix
  EXPECT_EQ(ns.ipv6_prefix_length(), 64);
  EXPECT_EQ(ns.ipv6_gateway(), "fd00:b1::1");

  // What the kernel inside the container has.
  auto addr = agent.Exec(server->id(), {"sh", "-c", "ip -6 addr show dev eth0 scope global; ip -6 route show default"});
  ASSERT_TRUE(addr.ok()) << addr.status();
  EXPECT_THAT(addr->out, HasSubstr("inet6 fd00:b1::2/64"));
  EXPECT_THAT(addr->out, HasSubstr("default via fd00:b1::1 dev eth0"));
  auto hosts = agent.Exec(server->id(), {"cat", "/etc/hosts"});
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  EXPECT_THAT(hosts->out, HasSubstr("fd00:b1::2\t"));

  // Container to container over v6: the answer names the client's v6 address.
  auto client = agent.RunToExit(
      OnNetwork(WithNettool(Busybox({kNettoolInContainer, "tcp-ask", "fd00:b1::2", "8080", "v6hello", "5"})), "v6net"));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(client->exit_code, 0) << client->err;
  EXPECT_EQ(client->out, "v6hello from fd00:b1::3\n");

  // The published port over v6, from the node itself (the bridge's v6 address is local).
  CliResult node = agent.RunInHost({NettoolPath(), "tcp-ask", "fd00:b1::1", "18200", "node6", "5"});
  EXPECT_EQ(node.exit_code, 0) << node.err;
  EXPECT_THAT(node.out, StartsWith("node6 from "));

  // From a peer host over v6: DNAT keeps its source; outbound traffic is masqueraded.
  auto peer = PeerNetns::Create(agent.netns_fd(), 5);
  ASSERT_TRUE(peer.ok()) << peer.status();
  CliResult host_addr =
      agent.RunInHost({"/sbin/ip", "-6", "addr", "add", "fd99:5::1/64", "dev", peer->host_interface(), "nodad"});
  ASSERT_EQ(host_addr.exit_code, 0) << host_addr.err;
  CliResult peer_addr = peer->Run({"/sbin/ip", "-6", "addr", "add", "fd99:5::2/64", "dev", "eth0", "nodad"});
  ASSERT_EQ(peer_addr.exit_code, 0) << peer_addr.err;
  CliResult from_peer = peer->Run({NettoolPath(), "tcp-ask", "fd99:5::1", "18200", "peer6", "5"});
  EXPECT_EQ(from_peer.exit_code, 0) << from_peer.err;
  EXPECT_EQ(from_peer.out, "peer6 from fd99:5::2\n");

  CliResult received;
  std::thread receiver([&] { received = peer->Run({NettoolPath(), "udp-recv", "9200"}, 15); });
  absl::Cleanup join = [&] { receiver.join(); };
  auto sender = agent.Run(OnNetwork(
      WithNettool(Busybox({"sh", "-c", "for i in $(seq 1 40); do /nettool udp-send fd99:5::2 9200 out6; sleep 0.2; done"})),
      "v6net"));
  ASSERT_TRUE(sender.ok()) << sender.status();
  std::move(join).Invoke();
  EXPECT_EQ(received.exit_code, 0) << received.err;
  EXPECT_EQ(received.out, "listening 9200\nout6 from fd99:5::1\n");

  // A container of a v4-only network has no global v6 address.
  auto v4only = agent.RunToExit(Busybox({"ip", "-6", "addr", "show", "scope", "global"}));
  ASSERT_TRUE(v4only.ok()) << v4only.status();
  EXPECT_THAT(v4only->out, Not(HasSubstr("inet6")));

  auto all = agent.List();
  ASSERT_TRUE(all.ok());
  for (const auto& c : *all) EXPECT_TRUE(agent.Remove(c.id()).ok());
  EXPECT_EQ(agent.Cli({"network", "rm", "v6net"}).exit_code, 0);
}

TEST(Ipv6, AgentFlagMakesTheDefaultNetworkDualStack) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start({"--ipv6"}));
  auto def = agent.InspectNetwork("bridge");
  ASSERT_TRUE(def.ok()) << def.status();
  ASSERT_TRUE(def->ipv6());
  EXPECT_THAT(def->ipv6_subnet(), StartsWith("fd"));
  EXPECT_THAT(def->ipv6_subnet(), ::testing::EndsWith("::/64"));
  auto c = agent.RunToExit(Busybox({"ip", "-6", "addr", "show", "dev", "eth0", "scope", "global"}));
  ASSERT_TRUE(c.ok()) << c.status();
  auto record = agent.List();
  ASSERT_TRUE(record.ok() && record->size() == 1u);
  const std::string v6 = (*record)[0].network_settings().ipv6_address();
  EXPECT_FALSE(v6.empty());
  EXPECT_THAT(c->out, HasSubstr(absl::StrCat("inet6 ", v6, "/64")));
  EXPECT_TRUE(agent.Remove((*record)[0].id()).ok());

  // The ULA is chosen once.
  agent.Restart();
  auto again = agent.InspectNetwork("bridge");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ipv6_subnet(), def->ipv6_subnet());
}

TEST(Ipv6, BadInputMakesNothing) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  ASSERT_EQ(agent.Cli({"network", "create", "--ipv6", "--subnet", "fd00:b4::/64", "first"}).exit_code, 0);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--subnet", "fd00:b2::/64"}, "add --ipv6"},
      {{"--ipv6", "--subnet", "fd00:b2::/121", "--subnet", "10.92.0.0/24"}, "too small"},
      {{"--ipv6", "--subnet", "fd00:b2::5/64"}, "host bits"},
      {{"--ipv6", "--subnet", "fd00:b4::/48"}, "overlaps network first"},
      {{"--ipv6", "--subnet", "fd00:b3::/64", "--subnet", "10.93.0.0/24", "--gateway", "fd00:b3::5"},
       "may be given to a container"},
      {{"--ipv6", "--subnet", "fd00:b3::/64", "--gateway", "10.9.9.1", "--gateway", "10.9.9.2"}, "one IPv4"},
      {{"--ipv6", "--subnet", "not-an-address::/64"}, "not an IPv6 address"},
  };
  for (const Case& tc : cases) {
    std::vector<std::string> argv = {"network", "create"};
    argv.insert(argv.end(), tc.args.begin(), tc.args.end());
    argv.push_back("second");
    CliResult r = agent.Cli(argv);
    EXPECT_NE(r.exit_code, 0) << absl::StrJoin(tc.args, " ");
    EXPECT_THAT(r.err, HasSubstr(tc.message)) << absl::StrJoin(tc.args, " ");
    EXPECT_TRUE(absl::IsNotFound(agent.InspectNetwork("second").status())) << absl::StrJoin(tc.args, " ");
  }
  // An explicit gateway beyond every container address is fine.
  CliResult high = agent.Cli({"network", "create", "--ipv6", "--subnet", "fd00:b3::/64", "--subnet", "10.93.0.0/24",
                              "--gateway", "fd00:b3::1:1", "third"});
  EXPECT_EQ(high.exit_code, 0) << high.err;
  for (const char* name : {"first", "third"}) EXPECT_EQ(agent.Cli({"network", "rm", name}).exit_code, 0);
}

}  // namespace
}  // namespace berth::testing
