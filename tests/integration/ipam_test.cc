// Addresses: a network hands out each usable address once (never its network, broadcast or
// gateway address), says RESOURCE_EXHAUSTED when none is left and takes an address back when
// its container is removed. Many create/remove cycles, and an agent SIGKILLed in the middle
// of creating containers, leave no lease file, veth or DNAT rule behind.
#include <arpa/inet.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "runtime/network/rtnetlink.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/network_support.h"

namespace berth::testing {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;

std::vector<std::string> DnatRulesNow(int netns_fd) {
  auto table = NftTable(netns_fd);
  if (!table.ok()) return {absl::StrCat("<nft: ", table.status().ToString(), ">")};
  return DnatRules(*table);
}

// Fails the test unless the test host has no bth* veth, no lease file and no DNAT rule.
// Veths go in the background (the agent does not make Remove wait for the kernel's RCU grace
// period), so they get a bounded moment to disappear.
void ExpectNothingLeft(AgentHarness& agent) {
  Eventually([&] { return LinkNamesWithPrefix(agent.netns_fd(), "bth").empty(); }, std::chrono::seconds(10));
  EXPECT_THAT(LinkNamesWithPrefix(agent.netns_fd(), "bth"), IsEmpty()) << "veths";
  EXPECT_THAT(LeaseFiles(agent.root()), IsEmpty()) << "lease files";
  EXPECT_THAT(DnatRulesNow(agent.netns_fd()), IsEmpty()) << "DNAT rules";
}

TEST(Ipam, SmallNetworkIsExhaustedAndAnAddressComesBackOnRemove) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  auto net = agent.CreateNetwork("small", "10.91.0.0/29");
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_EQ(net->gateway(), "10.91.0.1");
  const std::set<std::string> usable = {"10.91.0.2", "10.91.0.3", "10.91.0.4", "10.91.0.5", "10.91.0.6"};

  std::vector<v1::Container> running;
  std::set<std::string> given;
  for (int i = 0; i < 5; ++i) {
    auto config = Busybox({"sleep", "300"});
    config.set_network("small");
    auto c = agent.Run(config);
    ASSERT_TRUE(c.ok()) << "container " << i << ": " << c.status();
    const std::string ip = c->network_settings().ip_address();
    EXPECT_TRUE(usable.count(ip)) << ip << " is not a usable address of 10.91.0.0/29";
    EXPECT_TRUE(given.insert(ip).second) << ip << " handed out twice";
    EXPECT_EQ(c->network_settings().prefix_length(), 29);
    running.push_back(*c);
  }
  EXPECT_EQ(given, usable);

  // One lease file per address, holding its container's id.
  std::vector<std::string> expected_leases;
  for (const auto& c : running) {
    const std::string lease = absl::StrCat(net->id(), "/", c.network_settings().ip_address());
    expected_leases.push_back(lease);
    const std::string file =
        absl::StrCat(agent.root(), "/networks/", net->id(), "/leases/", c.network_settings().ip_address());
    EXPECT_EQ(absl::StripAsciiWhitespace(ReadText(file)), c.id()) << file;
  }
  EXPECT_THAT(LeaseFiles(agent.root()), UnorderedElementsAreArray(expected_leases));

  // The sixth finds no address, and leaves nothing of itself.
  auto sixth_config = Busybox({"sleep", "300"});
  sixth_config.set_network("small");
  auto sixth = agent.Run(sixth_config);
  EXPECT_TRUE(absl::IsResourceExhausted(sixth.status())) << sixth.status();
  auto list = agent.List();
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, SizeIs(5));
  EXPECT_THAT(LeaseFiles(agent.root()), SizeIs(5));
  EXPECT_THAT(LinkNamesWithPrefix(agent.netns_fd(), "bth"), SizeIs(5));

  // Removing one frees exactly its address for the next container.
  const std::string freed = running[2].network_settings().ip_address();
  ASSERT_TRUE(agent.Remove(running[2].id()).ok());
  EXPECT_THAT(LeaseFiles(agent.root()), SizeIs(4));
  auto next = agent.Run(sixth_config);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->network_settings().ip_address(), freed);
  auto seventh = agent.Run(sixth_config);
  EXPECT_TRUE(absl::IsResourceExhausted(seventh.status())) << seventh.status();

  // The default network is unaffected.
  auto elsewhere = agent.Run(Busybox({"sleep", "300"}));
  EXPECT_TRUE(elsewhere.ok()) << elsewhere.status();
}

TEST(Ipam, GatewayAnywhereInTheSubnetIsNeverHandedOut) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  auto net = agent.CreateNetwork("gw-last", "10.91.1.0/29", "10.91.1.6");
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_EQ(net->gateway(), "10.91.1.6");
  EXPECT_THAT(LinkAddresses(agent.netns_fd(), net->bridge()), ::testing::ElementsAre("10.91.1.6/29"));
  std::set<std::string> given;
  for (int i = 0; i < 5; ++i) {
    auto config = Busybox({"sleep", "300"});
    config.set_network("gw-last");
    auto c = agent.Create(config);  // the address is the container's from its creation
    ASSERT_TRUE(c.ok()) << c.status();
    given.insert(c->network_settings().ip_address());
    EXPECT_EQ(c->network_settings().gateway(), "10.91.1.6");
  }
  EXPECT_EQ(given, (std::set<std::string>{"10.91.1.1", "10.91.1.2", "10.91.1.3", "10.91.1.4", "10.91.1.5"}));
  auto config = Busybox({"sleep", "300"});
  config.set_network("gw-last");
  auto sixth = agent.Create(config);
  EXPECT_TRUE(absl::IsResourceExhausted(sixth.status())) << sixth.status();
}

TEST(Ipam, TwoHundredCreateRemoveCyclesLeaveNothing) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  for (int i = 0; i < 200; ++i) {
    SCOPED_TRACE(absl::StrCat("cycle ", i));
    auto config = Busybox({"sleep", "300"});
    // Every fourth publishes the same port: it must be free again each time.
    if (i % 4 == 0) *config.add_ports() = Port(i % 8 == 0 ? "tcp" : "udp", 19500, 8080);
    absl::StatusOr<v1::Container> c;
    switch (i % 3) {
      case 0:  // removed while running
        c = agent.Run(config);
        break;
      case 1:  // removed without ever starting
        c = agent.Create(config);
        break;
      case 2: {  // removed after it exited
        config.clear_command();
        config.add_command("true");
        c = agent.Run(config);
        if (c.ok()) ASSERT_TRUE(agent.Wait(c->id(), 30).ok());
        break;
      }
    }
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_FALSE(c->network_settings().ip_address().empty());
    absl::Status removed = agent.Remove(c->id(), /*force=*/true);
    ASSERT_TRUE(removed.ok()) << removed;
    if (i % 50 == 49) ASSERT_NO_FATAL_FAILURE(ExpectNothingLeft(agent));
  }
  ExpectNothingLeft(agent);
}

// Ids of the containers an agent lists.
std::set<std::string> ListedIds(AgentHarness& agent) {
  std::set<std::string> ids;
  auto list = agent.List();
  EXPECT_TRUE(list.ok()) << list.status();
  if (list.ok()) {
    for (const auto& c : *list) ids.insert(c.id());
  }
  return ids;
}

TEST(Ipam, AgentSigkillDuringCreatesLeavesNothingOnceContainersAreRemoved) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  // Three rounds of: create (and start) in a loop, SIGKILL the agent while a create is in
  // flight, start it again.
  int next_port = 19600;
  for (int round = 0; round < 3; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<int> created{0};
    // Its own channel: Kill replaces the harness's stubs.
    std::thread creator([&, socket = agent.socket()] {
      auto stub = v1::Containers::NewStub(grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
      for (int i = 0; !stop && i < 400; ++i) {
        v1::CreateRequest req;
        *req.mutable_config() = WithNettool(Busybox({"/nettool", "tcp-serve", "8080"}));
        if (i % 3 == 0) *req.mutable_config()->add_ports() = Port("tcp", next_port++, 8080);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
        v1::CreateResponse resp;
        if (!stub->Create(&ctx, req, &resp).ok()) continue;
        ++created;
        grpc::ClientContext start_ctx;
        start_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
        v1::StartRequest start;
        start.set_id(resp.container().id());
        v1::StartResponse started;
        (void)stub->Start(&start_ctx, start, &started);
      }
    });
    // Kill while creates are in flight: some containers exist, one is being made.
    bool enough = Eventually([&] { return created >= 4; }, std::chrono::seconds(90));
    agent.Kill(SIGKILL);
    stop = true;
    creator.join();
    ASSERT_TRUE(enough) << "round " << round << ": only " << created << " containers were created";
    ASSERT_NO_FATAL_FAILURE(agent.Start());
  }

  // Reconciled at start-up: every lease, veth and DNAT rule belongs to a container the agent
  // knows; each listed container's settings point at its own lease.
  auto list = agent.List();
  ASSERT_TRUE(list.ok()) << list.status();
  std::set<std::string> ids = ListedIds(agent);
  std::set<std::string> veth_names, lease_names;
  for (const auto& c : *list) {
    const v1::NetworkSettings& ns = c.network_settings();
    if (ns.ip_address().empty()) continue;
    lease_names.insert(absl::StrCat(ns.network_id(), "/", ns.ip_address()));
    veth_names.insert(ns.host_interface());
    EXPECT_EQ(absl::StripAsciiWhitespace(
                  ReadText(absl::StrCat(agent.root(), "/networks/", ns.network_id(), "/leases/", ns.ip_address()))),
              c.id());
  }
  for (const std::string& lease : LeaseFiles(agent.root())) {
    EXPECT_TRUE(lease_names.count(lease)) << "lease of no known container: " << lease;
  }
  for (const std::string& veth : LinkNamesWithPrefix(agent.netns_fd(), "bth")) {
    EXPECT_TRUE(veth_names.count(veth)) << "veth of no known container: " << veth;
  }
  // Published ports of running containers answer again (the table was re-rendered), and no
  // rule points at an address no container holds.
  std::set<std::string> addresses;
  for (const auto& c : *list) addresses.insert(c.network_settings().ip_address());
  for (const std::string& rule : DnatRulesNow(agent.netns_fd())) {
    bool known = false;
    for (const std::string& a : addresses) known = known || (!a.empty() && absl::StrContains(rule, "to " + a + ":"));
    EXPECT_TRUE(known) << "DNAT rule to no known container: " << rule;
  }
  int checked = 0;
  for (const auto& c : *list) {
    if (c.state() != v1::RUNNING || c.network_settings().ports_size() == 0 || checked >= 2) continue;
    const std::string port = absl::StrCat(c.network_settings().ports(0).host_port());
    CliResult r = agent.RunInHost({NettoolPath(), "tcp-ask", "127.0.0.1", port, "after-restart", "5"});
    EXPECT_EQ(r.exit_code, 0) << "port " << port << " of " << c.id() << ": " << r.err;
    ++checked;
  }

  for (const std::string& id : ids) {
    absl::Status st = agent.Remove(id, true);
    EXPECT_TRUE(st.ok() || absl::IsNotFound(st)) << st;
  }
  EXPECT_THAT(ListedIds(agent), IsEmpty());
  ExpectNothingLeft(agent);
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

// Start-up reconciliation made visible: leftovers planted in the test host while the agent is
// down (a bth* veth, a lease of an unknown container, a stray DNAT rule in its table) are gone
// once it is up again, and what a live container owns is kept and still works.
TEST(Reconcile, StartupRemovesWhatNoContainerOwns) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  auto live_config = WithNettool(Busybox({"/nettool", "tcp-serve", "8080"}));
  *live_config.add_ports() = Port("tcp", 19700, 8080);
  auto live = RunAndWaitForLog(agent, live_config, {"listening 8080"});
  ASSERT_TRUE(live.ok()) << live.status();
  const v1::NetworkSettings& ns = live->network_settings();
  agent.Kill(SIGKILL);

  // A veth the agent's naming would claim, with its peer in the test host too.
  {
    auto rtnl = net::Rtnl::OpenIn(agent.netns_fd());
    ASSERT_TRUE(rtnl.ok()) << rtnl.status();
    absl::Status st = rtnl->CreateVethPair("bthdeadbeef0000", "tdead0", agent.netns_fd(), 0);
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_TRUE(LinkExists(agent.netns_fd(), "bthdeadbeef0000"));
  // A lease of a container nobody recorded.
  const std::string stray_lease = absl::StrCat(agent.root(), "/networks/", ns.network_id(), "/leases/10.88.200.200");
  ASSERT_TRUE(WriteFileAtomic(stray_lease, std::string(64, 'a')).ok());
  // A DNAT rule the agent never described (with the nft tool, when the machine has it).
  bool planted_rule = false;
  for (const char* nft : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"}) {
    if (::access(nft, X_OK) != 0) continue;
    CliResult r = agent.RunInHost({nft, "add rule ip berth prerouting tcp dport 19999 dnat to 10.88.200.200:80"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    planted_rule = true;
    break;
  }
  if (planted_rule) {
    auto table = NftTable(agent.netns_fd());
    ASSERT_TRUE(table.ok());
    ASSERT_TRUE(absl::StrContains(*table, "dport 19999")) << *table;
  }

  ASSERT_NO_FATAL_FAILURE(agent.Start());
  EXPECT_FALSE(LinkExists(agent.netns_fd(), "bthdeadbeef0000")) << "a bth* veth no container owns";
  EXPECT_NE(::access(stray_lease.c_str(), F_OK), 0) << "a lease of no container: " << stray_lease;
  auto table = NftTable(agent.netns_fd());
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_FALSE(absl::StrContains(*table, "dport 19999")) << "the table was not re-rendered:\n" << *table;
  if (!planted_rule) std::printf("no nft tool: the stray-rule part was not exercised\n");

  // The live container's veth, lease and port are kept.
  EXPECT_TRUE(LinkExists(agent.netns_fd(), ns.host_interface()));
  EXPECT_THAT(LeaseFiles(agent.root()), ::testing::ElementsAre(absl::StrCat(ns.network_id(), "/", ns.ip_address())));
  CliResult r = agent.RunInHost({NettoolPath(), "tcp-ask", "127.0.0.1", "19700", "kept", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("kept from "));
}

// A recorded container on the bridge whose veth is gone when the agent starts (deleted while
// it was down, or not made yet when it died in the create) is connected again, with its
// recorded address: a published port reaches it through the new veth.
TEST(Reconcile, AContainerWhoseVethIsGoneIsConnectedAgain) {
  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());
  auto config = WithNettool(Busybox({"/nettool", "tcp-serve", "8080"}));
  *config.add_ports() = Port("tcp", 19701, 8080);
  auto live = RunAndWaitForLog(agent, config, {"listening 8080"});
  ASSERT_TRUE(live.ok()) << live.status();
  const v1::NetworkSettings& ns = live->network_settings();
  agent.Kill(SIGKILL);
  {
    auto rtnl = net::Rtnl::OpenIn(agent.netns_fd());
    ASSERT_TRUE(rtnl.ok()) << rtnl.status();
    absl::Status st = rtnl->DeleteLink(ns.host_interface());  // its peer, the container's eth0, goes too
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_FALSE(LinkExists(agent.netns_fd(), ns.host_interface()));

  ASSERT_NO_FATAL_FAILURE(agent.Start());
  EXPECT_TRUE(LinkExists(agent.netns_fd(), ns.host_interface()));
  auto exec = agent.Exec(live->id(), {"ip", "-4", "-o", "addr", "show", "eth0"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_TRUE(absl::StrContains(exec->out, ns.ip_address() + "/")) << exec->out << exec->err;
  CliResult r = agent.RunInHost({NettoolPath(), "tcp-ask", "127.0.0.1", "19701", "again", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("again from "));
}

}  // namespace
}  // namespace berth::testing
