// The embedded resolver of user-made networks, with real queries from busybox's nslookup:
// containers find each other by name, short id and --network-alias, only on their own
// network; every other name goes to the node's resolvers (here a stand-in upstream in the test
// host, on 127.0.0.1:53, which berthd is told about with --dns) and its answer comes back; the
// default network keeps the node's resolvers; the resolver goes with its network and comes
// back after an agent restart; bad aliases are refused with nothing made, and garbage
// datagrams do not hurt it.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/network_support.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// For each name: "NAME ADDRESS" (the last A answer) or "NAME none".
constexpr char kResolveScript[] =
    "for n in \"$@\"; do a=$(nslookup -type=a \"$n\" 2>/dev/null | sed -n '/^Name:/,$ s/^Address: *//p' | tail -n 1);"
    " echo \"$n ${a:-none}\"; done";

class Dns : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(agent_.Start({"--dns", "127.0.0.1"}));
    // The node's resolver: a container in the test host's own namespace.
    auto config = WithNettool(Busybox({"/nettool", "dns-serve", "53", "upstream.test", "192.0.2.7"}));
    config.set_network("host");
    config.set_name("upstream");
    auto upstream = RunAndWaitForLog(agent_, config, {"listening 53"});
    ASSERT_TRUE(upstream.ok()) << upstream.status();
    upstream_id_ = upstream->id();
  }

  void MakeNetwork(const std::string& name, const std::string& subnet) {
    CliResult r = agent_.Cli({"network", "create", "--subnet", subnet, name});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Resolves `names` from a new container on `network`; one "NAME ADDRESS|none" line each.
  std::string Resolve(const std::string& network, const std::vector<std::string>& names) {
    std::vector<std::string> argv = {"sh", "-c", kResolveScript, "resolve"};
    argv.insert(argv.end(), names.begin(), names.end());
    auto config = Busybox(argv);
    config.set_network(network);
    auto c = agent_.Run(config);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return "";
    auto waited = agent_.Wait(c->id());
    EXPECT_TRUE(waited.ok()) << waited.status();
    std::string out = agent_.Logs(c->id()).value_or("<no logs>");
    EXPECT_TRUE(agent_.Remove(c->id()).ok());
    return out;
  }

  std::string UpstreamLog() { return agent_.Logs(upstream_id_).value_or(""); }

  // Local UDP sockets on port 53 of the test host (ss -uln).
  std::string Listening53() {
    CliResult ss = agent_.RunInHost({"/bin/ss", "-Huln", "sport", "=", ":53"});
    EXPECT_EQ(ss.exit_code, 0) << ss.err;
    return ss.out;
  }

  void TearDown() override {
    auto all = agent_.List();
    if (all.ok()) {
      for (const auto& c : *all) (void)agent_.Remove(c.id());
    }
    auto networks = agent_.ListNetworks();
    if (networks.ok()) {
      for (const auto& n : *networks) {
        if (!n.is_default()) (void)agent_.RemoveNetwork(n.id());
      }
    }
  }

  AgentHarness agent_;
  std::string upstream_id_;
};

TEST_F(Dns, ContainersResolveEachOtherByNameShortIdAndAliasOnTheirNetwork) {
  ASSERT_NO_FATAL_FAILURE(MakeNetwork("app", "10.96.0.0/24"));
  ASSERT_NO_FATAL_FAILURE(MakeNetwork("other", "10.96.1.0/24"));
  CliResult web = agent_.Cli({"run", "-d", "--name", "web", "--network", "app", "--network-alias", "www",
                              "--network-alias", "api.internal", "busybox", "sleep", "300"});
  ASSERT_EQ(web.exit_code, 0) << web.err;
  const std::string web_id(absl::StripAsciiWhitespace(web.out));
  CliResult loner = agent_.Cli({"run", "-d", "--name", "loner", "--network", "other", "busybox", "sleep", "300"});
  ASSERT_EQ(loner.exit_code, 0) << loner.err;

  auto inspected = agent_.Inspect(web_id);
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  const std::string ip = inspected->network_settings().ip_address();
  EXPECT_THAT(inspected->network_settings().aliases(), ::testing::ElementsAre("www", "api.internal"));

  const std::string short_id = web_id.substr(0, 12);
  std::string out = Resolve("app", {"web", "WWW", "api.internal", short_id, "loner"});
  EXPECT_EQ(out, absl::StrCat("web ", ip, "\nWWW ", ip, "\napi.internal ", ip, "\n", short_id, " ", ip,
                              "\nloner none\n"));
  // "loner" is not app's: it went upstream, which said NXDOMAIN.
  EXPECT_THAT(UpstreamLog(), HasSubstr("query loner 1"));
  // The other network's own resolver knows loner but not web.
  auto loner_c = agent_.Inspect("loner");
  ASSERT_TRUE(loner_c.ok());
  EXPECT_EQ(Resolve("other", {"loner", "web"}),
            absl::StrCat("loner ", loner_c->network_settings().ip_address(), "\nweb none\n"));

  // A container of another network asking app's resolver directly is refused an answer.
  auto cross = Busybox({"nslookup", "web", "10.96.0.1"});
  cross.set_network("other");
  auto cross_out = agent_.RunToExit(cross);
  ASSERT_TRUE(cross_out.ok()) << cross_out.status();
  EXPECT_THAT(cross_out->out + cross_out->err, HasSubstr("REFUSED"));
  EXPECT_THAT(cross_out->out, Not(HasSubstr(absl::StrCat("Address: ", ip))));

  // The container's resolv.conf points at its gateway.
  auto resolv = agent_.Exec(web_id, {"cat", "/etc/resolv.conf"});
  ASSERT_TRUE(resolv.ok());
  EXPECT_THAT(resolv->out, HasSubstr("nameserver 10.96.0.1\n"));

  // A stopped container stops resolving; a renamed one answers to its new name.
  CliResult renamed = agent_.Cli({"rename", "web", "web2"});
  ASSERT_EQ(renamed.exit_code, 0) << renamed.err;
  EXPECT_EQ(Resolve("app", {"web2", "web"}), absl::StrCat("web2 ", ip, "\nweb none\n"));
  ASSERT_EQ(agent_.Cli({"stop", "-t", "0", "web2"}).exit_code, 0);
  EXPECT_EQ(Resolve("app", {"web2", "www"}), "web2 none\nwww none\n");
}

TEST_F(Dns, OtherNamesAreForwardedAndTheDefaultNetworkKeepsTheNodesResolvers) {
  ASSERT_NO_FATAL_FAILURE(MakeNetwork("app", "10.96.2.0/24"));
  EXPECT_EQ(Resolve("app", {"upstream.test", "nowhere.test"}), "upstream.test 192.0.2.7\nnowhere.test none\n");
  EXPECT_THAT(UpstreamLog(), HasSubstr("query upstream.test 1"));

  auto app = agent_.InspectNetwork("app");
  auto def = agent_.InspectNetwork("bridge");
  ASSERT_TRUE(app.ok() && def.ok());
  EXPECT_TRUE(app->dns());
  EXPECT_FALSE(def->dns());
  auto on_default = agent_.RunToExit(Busybox({"cat", "/etc/resolv.conf"}));
  ASSERT_TRUE(on_default.ok());
  EXPECT_THAT(on_default->out, HasSubstr("nameserver 127.0.0.1"));  // berthd's --dns, as before
  EXPECT_THAT(on_default->out, Not(HasSubstr("10.88.0.1")));
  // --dns on the container still wins on a network with a resolver.
  auto own = Busybox({"cat", "/etc/resolv.conf"});
  own.set_network("app");
  own.add_dns("192.0.2.53");
  auto own_out = agent_.RunToExit(own);
  ASSERT_TRUE(own_out.ok());
  EXPECT_THAT(own_out->out, HasSubstr("nameserver 192.0.2.53"));
  EXPECT_THAT(own_out->out, Not(HasSubstr("10.96.2.1")));
}

TEST_F(Dns, TheResolverGoesWithItsNetworkAndComesBackAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(MakeNetwork("app", "10.96.3.0/24"));
  EXPECT_THAT(Listening53(), HasSubstr("10.96.3.1:53"));
  CliResult web = agent_.Cli({"run", "-d", "--name", "web", "--network", "app", "busybox", "sleep", "300"});
  ASSERT_EQ(web.exit_code, 0) << web.err;
  auto c = agent_.Inspect("web");
  ASSERT_TRUE(c.ok());
  agent_.Restart();
  EXPECT_EQ(Resolve("app", {"web"}), absl::StrCat("web ", c->network_settings().ip_address(), "\n"));

  ASSERT_TRUE(agent_.Remove(c->id()).ok());
  CliResult rm = agent_.Cli({"network", "rm", "app"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_THAT(Listening53(), Not(HasSubstr("10.96.3.1:53")));
}

TEST_F(Dns, BadAliasesAreRefusedAndGarbageDoesNotHurt) {
  ASSERT_NO_FATAL_FAILURE(MakeNetwork("app", "10.96.4.0/24"));
  CliResult on_default = agent_.Cli({"run", "-d", "--network-alias", "x", "busybox", "sleep", "300"});
  EXPECT_EQ(on_default.exit_code, 125);
  EXPECT_THAT(on_default.err, HasSubstr("network aliases need a network made with"));
  CliResult bad = agent_.Cli({"run", "-d", "--network", "app", "--network-alias", "bad name!", "busybox", "sleep", "300"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("\"bad name!\" is not a host name"));
  auto all = agent_.List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);  // only the upstream
  EXPECT_THAT(LeaseFiles(agent_.root()), IsEmpty());

  CliResult web = agent_.Cli({"run", "-d", "--name", "web", "--network", "app", "busybox", "sleep", "300"});
  ASSERT_EQ(web.exit_code, 0) << web.err;
  auto garbage = WithNettool(Busybox(
      {"sh", "-c",
       "for m in x 0123456789ab 'abcdefghijklmnopqrstuvwxyz0123456789'; do /nettool udp-send 10.96.4.1 53 \"$m\"; done; "
       "printf '\\000\\001\\001\\000\\000\\001\\000\\000\\000\\000\\000\\000\\300\\014\\000\\001\\000\\001' "
       "> /tmp/loop; nc -u -w 1 10.96.4.1 53 < /tmp/loop; true"}));
  garbage.set_network("app");
  auto sent = agent_.RunToExit(garbage);
  ASSERT_TRUE(sent.ok()) << sent.status();
  auto c = agent_.Inspect("web");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Resolve("app", {"web"}), absl::StrCat("web ", c->network_settings().ip_address(), "\n"));
}

}  // namespace
}  // namespace berth::testing
