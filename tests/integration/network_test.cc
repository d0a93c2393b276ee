// Bridge networking as containers and the test host see it: real packets between containers
// (TCP with busybox nc, UDP with berth-nettool), eth0 inside a container against what Inspect
// reports, the host end of its veth on the bridge, /etc/hosts, /etc/hostname and
// /etc/resolv.conf, isolation between named networks, and the "container:", "none" and "host"
// modes. Every agent runs in the harness's test host namespace.
#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "runtime/network/rtnetlink.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/network_support.h"

namespace berth::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kGateway[] = "10.88.0.1";

// 02:42 and the address's four bytes, as Docker derives it.
std::string MacFor(const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return "<not an address: " + ip + ">";
  const auto* b = reinterpret_cast<const unsigned char*>(&a.s_addr);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3]);
  return buf;
}

// True when `ip` is inside `cidr` (both dotted quads, cidr "a.b.c.d/len").
bool InSubnet(const std::string& ip, const std::string& cidr) {
  std::vector<std::string> parts = absl::StrSplit(cidr, '/');
  if (parts.size() != 2) return false;
  in_addr a{}, n{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1 || inet_pton(AF_INET, parts[0].c_str(), &n) != 1) return false;
  int len = std::stoi(parts[1]);
  uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  return (ntohl(a.s_addr) & mask) == (ntohl(n.s_addr) & mask);
}

struct Finished {
  v1::Container container;
  CliResult result;  // exit code, stdout, stderr
};

class Network : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }

  // Runs `config` to its exit and keeps the container (for its inspected settings).
  Finished MustFinish(v1::ContainerConfig config, int timeout_seconds = 60) {
    Finished f;
    auto c = agent_.Run(std::move(config));
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return f;
    auto w = agent_.Wait(c->id(), timeout_seconds);
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok()) return f;
    f.container = w->container();
    f.result.exit_code = w->exit_code();
    v1::LogsRequest req;
    req.set_id(c->id());
    auto chunks = agent_.LogChunks(req);
    EXPECT_TRUE(chunks.ok()) << chunks.status();
    if (chunks.ok()) {
      for (const auto& ch : *chunks) (ch.stream() == v1::STDERR ? f.result.err : f.result.out) += ch.data();
    }
    return f;
  }

  v1::Container MustServe(v1::ContainerConfig config, const std::vector<std::string>& ready) {
    auto c = RunAndWaitForLog(agent_, std::move(config), ready);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Container{};
  }

  AgentHarness agent_;
};

// A client loop for busybox nc: retries while the server is not listening yet.
std::string NcClient(const std::string& ip, int port, const std::string& message) {
  return absl::StrCat("for i in $(seq 1 50); do echo ", message, " | nc -w 2 ", ip, " ", port,
                      " && exit 0; sleep 0.2; done; exit 1");
}

TEST_F(Network, TwoContainersOnTheDefaultBridgeTalkTcp) {
  // The server answers one connection: it reads a line, says so on stderr (its log) and
  // answers on the connection.
  auto server_config = Busybox({"nc", "-l", "-p", "7000", "-e", "sh", "-c",
                                "read line; echo got:$line; echo server-saw:$line >&2"});
  server_config.set_name("tcp-server");
  auto server = agent_.Run(server_config);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string server_ip = server->network_settings().ip_address();
  ASSERT_TRUE(InSubnet(server_ip, "10.88.0.0/16")) << server->network_settings().DebugString();

  Finished client = MustFinish(Busybox({"sh", "-c", NcClient(server_ip, 7000, "hello")}));
  EXPECT_EQ(client.result.exit_code, 0) << client.result.out << client.result.err;
  EXPECT_THAT(client.result.out, HasSubstr("got:hello"));
  EXPECT_NE(client.container.network_settings().ip_address(), server_ip);

  auto w = agent_.Wait(server->id(), 30);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->exit_code(), 0);
  auto logs = agent_.Logs(server->id());
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_THAT(*logs, HasSubstr("server-saw:hello"));
}

TEST_F(Network, TwoContainersOnTheDefaultBridgeTalkUdp) {
  auto server = MustServe(WithNettool(Busybox({kNettool, "udp-serve", "7001"})), {"listening 7001"});
  const std::string server_ip = server.network_settings().ip_address();
  ASSERT_FALSE(server_ip.empty());

  Finished client = MustFinish(WithNettool(Busybox({kNettool, "udp-ask", server_ip, "7001", "ping", "10"})));
  EXPECT_EQ(client.result.exit_code, 0) << client.result.err;
  // Same bridge: the server sees the client's own address (no NAT between containers).
  const std::string client_ip = client.container.network_settings().ip_address();
  EXPECT_EQ(client.result.out, absl::StrCat("ping from ", client_ip, "\n"));
  auto logs = agent_.Logs(server.id());
  ASSERT_TRUE(logs.ok());
  EXPECT_THAT(*logs, HasSubstr(absl::StrCat("ping from ", client_ip)));
}

// eth0 inside, the veth's host end and the bridge, all against Inspect; the agent's --mtu.
TEST(NetworkSetup, Eth0LinkAndBridgeMatchInspect) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start({"--mtu", "1400"}));
  auto config = Busybox({"sh", "-c",
                         "ip -o -4 addr show dev eth0; echo ==; ip -o link show dev eth0; echo ==; ip route; "
                         "echo ==; ip -o link show dev lo; echo ==; ip -o -4 addr show dev lo; echo ==; "
                         "echo end-of-probe; sleep 300"});
  config.set_name("probe");
  auto c = RunAndWaitForLog(agent, config, {"end-of-probe"});
  ASSERT_TRUE(c.ok()) << c.status();
  auto logs = agent.Logs(c->id());
  ASSERT_TRUE(logs.ok());
  std::vector<std::string> parts = absl::StrSplit(*logs, "==\n");
  ASSERT_GE(parts.size(), 5u) << *logs;

  const v1::NetworkSettings& ns = c->network_settings();
  EXPECT_EQ(ns.mode(), "bridge");
  EXPECT_EQ(ns.network(), "bridge");
  EXPECT_TRUE(InSubnet(ns.ip_address(), "10.88.0.0/16")) << ns.DebugString();
  EXPECT_NE(ns.ip_address(), kGateway);
  EXPECT_NE(ns.ip_address(), "10.88.0.0");
  EXPECT_EQ(ns.prefix_length(), 16);
  EXPECT_EQ(ns.gateway(), kGateway);
  EXPECT_EQ(ns.mac_address(), MacFor(ns.ip_address()));
  EXPECT_EQ(ns.host_interface(), "bth" + c->id().substr(0, 12));
  EXPECT_EQ(ns.bridge(), "berth0");
  auto networks = agent.ListNetworks();
  ASSERT_TRUE(networks.ok()) << networks.status();
  std::string default_id;
  for (const auto& n : *networks) {
    if (n.is_default()) default_id = n.id();
  }
  EXPECT_EQ(ns.network_id(), default_id);

  // Inside: the inspected address and MAC, the bridge's MTU, a default route via the gateway
  // and loopback up.
  EXPECT_THAT(parts[0], HasSubstr(absl::StrCat("inet ", ns.ip_address(), "/16 ")));
  EXPECT_THAT(parts[1], HasSubstr("mtu 1400 "));
  EXPECT_THAT(parts[1], HasSubstr("link/ether " + ns.mac_address() + " "));
  EXPECT_THAT(parts[1], ContainsRegex("[<,]UP[,>]"));
  EXPECT_THAT(parts[2], HasSubstr(absl::StrCat("default via ", kGateway, " dev eth0")));
  EXPECT_THAT(parts[2], HasSubstr("10.88.0.0/16 dev eth0"));
  EXPECT_THAT(parts[3], ContainsRegex("[<,]UP[,>]"));
  EXPECT_THAT(parts[4], HasSubstr("inet 127.0.0.1/8"));

  // The test host: the veth's host end is up on the bridge, both with the MTU; the bridge
  // holds the gateway address; forwarding is on.
  auto links = Links(agent.netns_fd());
  ASSERT_TRUE(links.ok()) << links.status();
  const net::LinkInfo* bridge = nullptr;
  const net::LinkInfo* veth = nullptr;
  for (const auto& l : *links) {
    if (l.name == "berth0") bridge = &l;
    if (l.name == ns.host_interface()) veth = &l;
  }
  ASSERT_NE(bridge, nullptr) << "no berth0 in the test host";
  ASSERT_NE(veth, nullptr) << "no " << ns.host_interface() << " in the test host";
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_TRUE(bridge->up);
  EXPECT_EQ(bridge->mtu, 1400);
  EXPECT_EQ(veth->kind, "veth");
  EXPECT_EQ(veth->master_index, bridge->index);
  EXPECT_TRUE(veth->up);
  EXPECT_EQ(veth->mtu, 1400);
  EXPECT_THAT(LinkAddresses(agent.netns_fd(), "berth0"), ElementsAre("10.88.0.1/16"));
  std::string forward;
  ASSERT_TRUE(agent
                  .RunInHostNetns([&] {
                    forward = ReadText("/proc/sys/net/ipv4/ip_forward");
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(forward, "1\n");

  // The lease: a file named by the address holding the container's id.
  const std::string lease = absl::StrCat(agent.root(), "/networks/", ns.network_id(), "/leases/", ns.ip_address());
  EXPECT_EQ(absl::StripAsciiWhitespace(ReadText(lease)), c->id()) << lease;

  // Removal takes the veth and the lease.
  ASSERT_TRUE(agent.Remove(c->id()).ok());
  Eventually([&] { return LinkNamesWithPrefix(agent.netns_fd(), "bth").empty(); });  // deleted in the background
  EXPECT_THAT(LinkNamesWithPrefix(agent.netns_fd(), "bth"), IsEmpty());
  EXPECT_THAT(LeaseFiles(agent.root()), IsEmpty());
}

TEST(NetworkSetup, BridgeNameAndSubnetFromFlags) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start({"--bridge", "tbr0", "--bridge-cidr", "10.77.0.1/24"}));
  auto c = agent.Run(Busybox({"sleep", "300"}));
  ASSERT_TRUE(c.ok()) << c.status();
  const v1::NetworkSettings& ns = c->network_settings();
  EXPECT_TRUE(InSubnet(ns.ip_address(), "10.77.0.0/24")) << ns.DebugString();
  EXPECT_EQ(ns.prefix_length(), 24);
  EXPECT_EQ(ns.gateway(), "10.77.0.1");
  EXPECT_EQ(ns.bridge(), "tbr0");
  EXPECT_THAT(LinkAddresses(agent.netns_fd(), "tbr0"), ElementsAre("10.77.0.1/24"));
  EXPECT_FALSE(LinkExists(agent.netns_fd(), "berth0")) << "the default bridge name was used anyway";
  auto out = agent.Exec(c->id(), {"ip", "route"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->out, HasSubstr("default via 10.77.0.1 dev eth0"));
  auto def = agent.InspectNetwork("bridge");
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->subnet(), "10.77.0.0/24");
  EXPECT_EQ(def->gateway(), "10.77.0.1");
  EXPECT_EQ(def->bridge(), "tbr0");
  EXPECT_TRUE(def->is_default());
}

TEST_F(Network, EtcHostsHostnameAndResolvConf) {
  auto config = Busybox({"sh", "-c",
                         "cat /etc/hosts; echo ==; cat /etc/hostname; echo ==; cat /etc/resolv.conf; echo ==; "
                         "grep -E ' /etc/(hosts|hostname|resolv.conf) ' /proc/self/mountinfo | wc -l"});
  config.set_name("etc-test");
  config.set_hostname("web1");
  config.add_extra_hosts("db.internal:10.1.2.3");
  config.add_extra_hosts("cache:10.1.2.4");
  config.add_dns("10.0.0.53");
  config.add_dns("10.0.0.54");
  config.add_dns_search("corp.example");
  config.add_dns_search("example.org");
  Finished f = MustFinish(config);
  ASSERT_EQ(f.result.exit_code, 0) << f.result.err;
  std::vector<std::string> parts = absl::StrSplit(f.result.out, "==\n");
  ASSERT_EQ(parts.size(), 4u) << f.result.out;
  const std::string ip = f.container.network_settings().ip_address();
  ASSERT_FALSE(ip.empty());
  EXPECT_THAT(parts[0], StartsWith("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(parts[0], HasSubstr(absl::StrCat("\n", ip, "\tweb1 etc-test\n")));
  EXPECT_THAT(parts[0], HasSubstr("\n10.1.2.3\tdb.internal\n"));
  EXPECT_THAT(parts[0], HasSubstr("\n10.1.2.4\tcache\n"));
  EXPECT_EQ(parts[1], "web1\n");
  EXPECT_THAT(parts[2], HasSubstr("nameserver 10.0.0.53\nnameserver 10.0.0.54\n"));
  EXPECT_THAT(parts[2], HasSubstr("search corp.example example.org\n"));
  // Each of the three is its own bind mount.
  EXPECT_EQ(absl::StripAsciiWhitespace(parts[3]), "3") << "bind mounts of /etc files";

  // A container without a hostname is named by its id's first 12 characters.
  Finished d = MustFinish(Busybox({"sh", "-c", "cat /etc/hostname; cat /etc/hosts"}));
  const std::string short_id = d.container.id().substr(0, 12);
  EXPECT_THAT(d.result.out, StartsWith(short_id + "\n"));
  EXPECT_THAT(d.result.out, HasSubstr(absl::StrCat("\n", d.container.network_settings().ip_address(), "\t",
                                                   short_id, " ", d.container.name(), "\n")));
}

TEST_F(Network, BadEtcInputIsRejected) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"extra_hosts", "no-colon"}, {"extra_hosts", "name:not-an-ip"}, {"dns", "not-an-ip"}}) {
    SCOPED_TRACE(field + "=" + value);
    auto config = Busybox({"true"});
    if (field == "extra_hosts") config.add_extra_hosts(value);
    if (field == "dns") config.add_dns(value);
    auto c = agent_.Create(config);
    EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << c.status();
  }
  EXPECT_THAT(LeaseFiles(agent_.root()), IsEmpty());
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, IsEmpty());
}

TEST(NetworkSetup, AgentDnsFlagsAreTheDefault) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start({"--dns", "10.9.9.9", "--dns", "10.9.9.10", "--dns-search", "agent.example"}));
  auto a = agent.RunToExit(Busybox({"cat", "/etc/resolv.conf"}));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->out, HasSubstr("nameserver 10.9.9.9\nnameserver 10.9.9.10\n"));
  EXPECT_THAT(a->out, HasSubstr("search agent.example\n"));
  // The container's own settings win.
  auto config = Busybox({"cat", "/etc/resolv.conf"});
  config.add_dns("10.0.0.1");
  config.add_dns_search("own.example");
  auto b = agent.RunToExit(config);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->out, HasSubstr("nameserver 10.0.0.1\n"));
  EXPECT_THAT(b->out, Not(HasSubstr("10.9.9.9")));
  EXPECT_THAT(b->out, HasSubstr("search own.example\n"));
  EXPECT_THAT(b->out, Not(HasSubstr("agent.example")));
}

// A server answering TCP on 8000 and UDP on 8001 (berth-nettool).
v1::ContainerConfig EchoServer(const std::string& name, const std::string& network) {
  auto config = WithNettool(Busybox({"sh", "-c", "/nettool tcp-serve 8000 & exec /nettool udp-serve 8001"}));
  config.set_name(name);
  config.set_network(network);
  return config;
}

TEST_F(Network, NamedNetworksAreIsolatedFromEachOther) {
  auto net_a = agent_.CreateNetwork("net-a", "10.90.1.0/24");
  ASSERT_TRUE(net_a.ok()) << net_a.status();
  auto net_b = agent_.CreateNetwork("net-b", "10.90.2.0/24");
  ASSERT_TRUE(net_b.ok()) << net_b.status();

  v1::Container a1 = MustServe(EchoServer("a1", "net-a"), {"listening 8000", "listening 8001"});
  const std::string a1_ip = a1.network_settings().ip_address();
  ASSERT_TRUE(InSubnet(a1_ip, "10.90.1.0/24")) << a1.network_settings().DebugString();
  EXPECT_EQ(a1.network_settings().network(), "net-a");
  EXPECT_EQ(a1.network_settings().network_id(), net_a->id());
  EXPECT_EQ(a1.network_settings().gateway(), "10.90.1.1");
  EXPECT_EQ(a1.network_settings().prefix_length(), 24);
  EXPECT_EQ(a1.network_settings().bridge(), net_a->bridge());

  // Same network: TCP and UDP get through, from the sender's own address.
  auto same = WithNettool(Busybox({"sh", "-c",
                                   absl::StrCat("/nettool tcp-ask ", a1_ip, " 8000 same-tcp 10 && /nettool udp-ask ",
                                                a1_ip, " 8001 same-udp 10")}));
  same.set_network("net-a");
  Finished a2 = MustFinish(same);
  EXPECT_EQ(a2.result.exit_code, 0) << a2.result.out << a2.result.err;
  const std::string a2_ip = a2.container.network_settings().ip_address();
  EXPECT_THAT(a2.result.out, HasSubstr(absl::StrCat("same-tcp from ", a2_ip, "\n")));
  EXPECT_THAT(a2.result.out, HasSubstr(absl::StrCat("same-udp from ", a2_ip, "\n")));

  // The other network, and the default bridge: nothing gets through (2 s each).
  for (const std::string& network : {std::string("net-b"), std::string("bridge")}) {
    SCOPED_TRACE("from " + network);
    auto other = WithNettool(Busybox(
        {"sh", "-c",
         absl::StrCat("/nettool tcp-connect ", a1_ip, " 8000 2 && echo tcp-got-through; /nettool udp-ask ", a1_ip,
                      " 8001 from-other 2 && echo udp-got-through; true")}));
    other.set_network(network);
    Finished b = MustFinish(other);
    EXPECT_THAT(b.result.out, Not(HasSubstr("got-through"))) << b.result.out;
    EXPECT_THAT(b.result.err, HasSubstr("berth-nettool: connect")) << "the TCP probe did not run";
  }
  auto logs = agent_.Logs(a1.id());
  ASSERT_TRUE(logs.ok());
  EXPECT_THAT(*logs, Not(HasSubstr("from-other")));

  // And the server still answers its own network afterwards (the failures were isolation).
  Finished again = MustFinish(same);
  EXPECT_EQ(again.result.exit_code, 0) << again.result.err;

  // Each network is its own bridge in the test host with its gateway address.
  EXPECT_THAT(LinkAddresses(agent_.netns_fd(), net_a->bridge()), ElementsAre("10.90.1.1/24"));
  EXPECT_THAT(LinkAddresses(agent_.netns_fd(), net_b->bridge()), ElementsAre("10.90.2.1/24"));
  for (const auto& n : {*net_a, *net_b}) {
    EXPECT_EQ(n.bridge(), kNamedBridgePrefix + n.id().substr(0, 12)) << n.DebugString();
  }
}

TEST_F(Network, ContainerModeSharesTheNetworkNamespace) {
  v1::Container first = MustServe(EchoServer("first", "bridge"), {"listening 8000"});
  const std::string ip = first.network_settings().ip_address();
  ASSERT_FALSE(ip.empty());

  // The second container reaches the first's listener on its own 127.0.0.1 and has the same
  // eth0 address.
  auto config = Busybox({"sh", "-c",
                         "readlink /proc/self/ns/net; ip -o -4 addr show dev eth0; "
                         "echo shared | nc -w 2 127.0.0.1 8000"});
  config.set_network("container:first");
  Finished second = MustFinish(config);
  EXPECT_EQ(second.result.exit_code, 0) << second.result.err;
  EXPECT_THAT(second.result.out, HasSubstr(absl::StrCat("inet ", ip, "/16 ")));
  EXPECT_THAT(second.result.out, HasSubstr("shared from 127.0.0.1\n"));
  auto first_ns = agent_.Exec(first.id(), {"readlink", "/proc/self/ns/net"});
  ASSERT_TRUE(first_ns.ok()) << first_ns.status();
  EXPECT_THAT(second.result.out, StartsWith(first_ns->out));

  const v1::NetworkSettings& ns = second.container.network_settings();
  EXPECT_EQ(ns.mode(), "container");
  EXPECT_EQ(ns.container_id(), first.id());
  EXPECT_TRUE(ns.host_interface().empty()) << ns.DebugString();
  // One address and one veth for both.
  EXPECT_EQ(LeaseFiles(agent_.root()).size(), 1u);
  EXPECT_THAT(LinkNamesWithPrefix(agent_.netns_fd(), "bth"), ElementsAre(first.network_settings().host_interface()));

  // The id works as well as the name; removing the sharer leaves the first's network alone.
  auto by_id = Busybox({"sh", "-c", "echo by-id | nc -w 2 127.0.0.1 8000"});
  by_id.set_network("container:" + first.id());
  Finished third = MustFinish(by_id);
  EXPECT_THAT(third.result.out, HasSubstr("by-id from 127.0.0.1\n"));
  ASSERT_TRUE(agent_.Remove(second.container.id()).ok());
  ASSERT_TRUE(agent_.Remove(third.container.id()).ok());
  EXPECT_THAT(LinkNamesWithPrefix(agent_.netns_fd(), "bth"), ElementsAre(first.network_settings().host_interface()));
  auto still = agent_.Exec(first.id(), {kNettool, "tcp-ask", "127.0.0.1", "8000", "still", "5"});
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->out, "still from 127.0.0.1\n");
}

TEST_F(Network, ContainerModeTargetMustExistAndRun) {
  auto missing = Busybox({"true"});
  missing.set_network("container:no-such-container");
  auto m = agent_.Create(missing);
  EXPECT_TRUE(absl::IsNotFound(m.status())) << m.status();

  auto idle = agent_.Create(Busybox({"sleep", "300"}));  // created, never started
  ASSERT_TRUE(idle.ok()) << idle.status();
  auto config = Busybox({"true"});
  config.set_network("container:" + idle->name());
  auto n = agent_.Create(config);
  EXPECT_TRUE(absl::IsFailedPrecondition(n.status())) << n.status();

  // Nothing half-made: only the idle container exists, with at most its own lease and veth.
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id(), idle->id());
  for (const std::string& lease : LeaseFiles(agent_.root())) {
    EXPECT_EQ(lease, absl::StrCat(idle->network_settings().network_id(), "/", idle->network_settings().ip_address()));
  }
  for (const std::string& veth : LinkNamesWithPrefix(agent_.netns_fd(), "bth")) {
    EXPECT_EQ(veth, "bth" + idle->id().substr(0, 12));
  }
}

TEST_F(Network, NoneAndHostModesTakeNoAddress) {
  auto none = Busybox({"sleep", "300"});
  none.set_network("none");
  auto n = agent_.Run(none);
  ASSERT_TRUE(n.ok()) << n.status();
  auto host = Busybox({"sleep", "300"});
  host.set_network("host");
  auto h = agent_.Run(host);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(n->network_settings().mode(), "none");
  EXPECT_EQ(h->network_settings().mode(), "host");
  EXPECT_TRUE(n->network_settings().ip_address().empty());
  EXPECT_TRUE(h->network_settings().ip_address().empty());
  EXPECT_THAT(LeaseFiles(agent_.root()), IsEmpty());
  EXPECT_THAT(LinkNamesWithPrefix(agent_.netns_fd(), "bth"), IsEmpty());
  // none: loopback only, and up.
  auto lo = agent_.Exec(n->id(), {"sh", "-c", "ip -o link show; echo ==; ip -o -4 addr show dev lo"});
  ASSERT_TRUE(lo.ok()) << lo.status();
  EXPECT_THAT(lo->out, Not(HasSubstr("eth0")));
  EXPECT_THAT(lo->out, HasSubstr("inet 127.0.0.1/8"));
  // host: a host-mode container sees the bridge of the node (its test host).
  auto links = agent_.Exec(h->id(), {"ip", "-o", "link", "show"});
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_THAT(links->out, HasSubstr("berth0"));
}

// A container's net.* sysctls are written before its eth0 exists, as on a node that has just
// booted: conf.default then applies to eth0 as well, and eth0 still gets its address.
TEST_F(Network, DefaultInterfaceSysctlsApplyToEth0) {
  auto config = Busybox({"sleep", "300"});
  (*config.mutable_sysctls())["net.ipv4.conf.default.arp_announce"] = "2";
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  auto r = agent_.Exec(c->id(), {"sh", "-c",
                                 "cat /proc/sys/net/ipv4/conf/default/arp_announce "
                                 "/proc/sys/net/ipv4/conf/eth0/arp_announce; ip -4 -o addr show eth0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->out, ::testing::StartsWith("2\n2\n")) << r->err;
  EXPECT_THAT(r->out, HasSubstr(c->network_settings().ip_address() + "/"));
}

TEST_F(Network, UnknownNetworkIsNotFound) {
  auto config = Busybox({"true"});
  config.set_network("no-such-network");
  auto c = agent_.Create(config);
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, IsEmpty());
  EXPECT_THAT(LeaseFiles(agent_.root()), IsEmpty());
}

TEST_F(Network, ExitedContainerKeepsItsLeaseUntilRemoved) {
  Finished f = MustFinish(Busybox({"true"}));
  const v1::NetworkSettings& ns = f.container.network_settings();
  ASSERT_FALSE(ns.ip_address().empty());
  // Its namespace is gone with its processes, and with it the veth pair.
  EXPECT_TRUE(Eventually([&] { return LinkNamesWithPrefix(agent_.netns_fd(), "bth").empty(); }))
      << "veth of an exited container: " << absl::StrJoin(LinkNamesWithPrefix(agent_.netns_fd(), "bth"), ", ");
  EXPECT_THAT(LeaseFiles(agent_.root()), ElementsAre(absl::StrCat(ns.network_id(), "/", ns.ip_address())));
  ASSERT_TRUE(agent_.Remove(f.container.id()).ok());
  EXPECT_THAT(LeaseFiles(agent_.root()), IsEmpty());
}

// Traffic a container starts towards another machine (a peer namespace): the source the peer
// sees. The peer's berth-nettool prints the source of the first datagram it gets.
std::string OutboundSource(AgentHarness& agent, const PeerNetns& peer, const std::string& network, int port) {
  CliResult received;
  std::thread receiver([&] { received = peer.Run({NettoolPath(), "udp-recv", absl::StrCat(port)}, 15); });
  absl::Cleanup join = [&] { receiver.join(); };
  const std::string send_loop = absl::StrCat("for i in $(seq 1 40); do /nettool udp-send ", peer.address(), " ",
                                             port, " outbound; sleep 0.2; done");
  auto config = WithNettool(Busybox({"sh", "-c", send_loop}));
  config.set_network(network);
  auto sender = agent.Run(config);
  EXPECT_TRUE(sender.ok()) << sender.status();
  std::move(join).Invoke();
  EXPECT_EQ(received.exit_code, 0) << received.err;
  const std::string prefix = absl::StrCat("listening ", port, "\noutbound from ");
  if (!absl::StartsWith(received.out, prefix)) return "<nothing: " + received.out + ">";
  return std::string(absl::StripAsciiWhitespace(received.out.substr(prefix.size())));
}

// As Docker: the default network masquerades what leaves the node, out of the node's address
// on that link (the test host's, on the peer link).
TEST(OutboundTraffic, IsMasqueradedByDefault) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  auto peer = PeerNetns::Create(agent.netns_fd(), 3);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(OutboundSource(agent, *peer, "", 9100), peer->host_address());
  auto def = agent.InspectNetwork("bridge");
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_TRUE(def->masquerade());
}

// --no-outbound-nat: routed out with the container's own address, as the test cluster needs.
TEST(OutboundTraffic, LeavesFromTheContainersAddressWithNoOutboundNat) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start({"--no-outbound-nat"}));
  auto peer = PeerNetns::Create(agent.netns_fd(), 3);
  ASSERT_TRUE(peer.ok()) << peer.status();
  std::string source = OutboundSource(agent, *peer, "", 9100);
  EXPECT_TRUE(absl::StartsWith(source, "10.88.")) << source;
  auto def = agent.InspectNetwork("bridge");
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_FALSE(def->masquerade());
}

// A made network masquerades unless `--opt masquerade=false` says not; the option is read
// back from the agent, and a bad one is refused with nothing made.
TEST(OutboundTraffic, IsAPerNetworkOption) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start({"--no-outbound-nat"}));
  auto peer = PeerNetns::Create(agent.netns_fd(), 3);
  ASSERT_TRUE(peer.ok()) << peer.status();
  CliResult loud = agent.Cli({"network", "create", "--subnet", "10.90.1.0/24", "loud"});
  ASSERT_EQ(loud.exit_code, 0) << loud.err;
  CliResult quiet = agent.Cli({"network", "create", "--subnet", "10.90.2.0/24", "--opt", "masquerade=false", "quiet"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  CliResult bad = agent.Cli({"network", "create", "-o", "masquerade=maybe", "bad"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("must be true or false"));
  CliResult unknown = agent.Cli({"network", "create", "-o", "mtu=9000", "unknown"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_THAT(unknown.err, HasSubstr("\"mtu\" is unknown"));
  for (const char* name : {"bad", "unknown"}) EXPECT_TRUE(absl::IsNotFound(agent.InspectNetwork(name).status()));

  auto loud_net = agent.InspectNetwork("loud");
  auto quiet_net = agent.InspectNetwork("quiet");
  ASSERT_TRUE(loud_net.ok() && quiet_net.ok());
  EXPECT_TRUE(loud_net->masquerade());
  EXPECT_FALSE(quiet_net->masquerade());
  EXPECT_EQ(quiet_net->options().at("masquerade"), "false");

  EXPECT_EQ(OutboundSource(agent, *peer, "loud", 9101), peer->host_address());
  std::string source = OutboundSource(agent, *peer, "quiet", 9102);
  EXPECT_TRUE(absl::StartsWith(source, "10.90.2.")) << source;
  for (const char* name : {"loud", "quiet"}) {
    auto list = agent.List();
    ASSERT_TRUE(list.ok());
    for (const auto& c : *list) (void)agent.Remove(c.id());
    CliResult rm = agent.Cli({"network", "rm", name});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
  }
}

// The harness's end-of-test network checks are not vacuous: each leftover kind fails a test.
TEST(HarnessNetworkChecks, ReportLeftovers) {
  EXPECT_NONFATAL_FAILURE(
      {
        AgentHarness agent;
        agent.Start();
        auto rtnl = net::Rtnl::OpenIn(agent.netns_fd());
        ASSERT_TRUE(rtnl.ok()) << rtnl.status();
        ASSERT_TRUE(rtnl->CreateVethPair("bthleftover000", "tleft0", agent.netns_fd(), 0).ok());
      },
      "container veths left in the test host: bthleftover000");
  EXPECT_NONFATAL_FAILURE(
      {
        AgentHarness agent;
        agent.Start();
        auto def = agent.InspectNetwork("bridge");
        ASSERT_TRUE(def.ok()) << def.status();
        ASSERT_TRUE(
            WriteFileAtomic(absl::StrCat(agent.root(), "/networks/", def->id(), "/leases/10.88.9.9"), "x").ok());
      },
      "address leases left under");
  for (const char* nft : {"/usr/sbin/nft", "/sbin/nft"}) {
    if (::access(nft, X_OK) != 0) continue;
    EXPECT_NONFATAL_FAILURE(
        {
          AgentHarness agent;
          agent.Start();
          CliResult r =
              agent.RunInHost({nft, "add rule ip berth prerouting tcp dport 19998 dnat to 10.88.9.9:80"});
          ASSERT_EQ(r.exit_code, 0) << r.err;
        },
        "DNAT rules left in table ip berth");
    break;
  }
}

}  // namespace
}  // namespace berth::testing
