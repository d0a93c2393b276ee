// The agent's nftables table. RenderFirewall is checked as text; the Firewall tests need root
// and run every nft call inside a fresh network namespace of their own (never the host's), so
// they leave nothing behind: the namespace goes with its fd and the Firewall's socket.
#include "runtime/network/firewall.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/unique_fd.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/netns.h"

namespace berth::net {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Ipv4Address Addr(const char* text) { return ParseIpv4(text).value(); }
Ipv4Prefix Net(const char* text) { return ParseIpv4Prefix(text).value(); }

PublishedPort Port(const char* protocol, const char* host_ip, uint16_t host_port,
                   const char* container_ip, uint16_t container_port, std::string comment = "",
                   std::string bridge = "br0") {
  return PublishedPort{protocol,       Addr(host_ip),      host_port, Addr(container_ip),
                       container_port, std::move(comment), std::move(bridge)};
}

FirewallConfig SmallConfig() {
  FirewallConfig config;
  config.networks = {{"br0", Net("10.88.0.0/16"), true}, {"br1", Net("10.89.0.0/24"), true}};
  config.ports = {Port("tcp", "0.0.0.0", 8080, "10.88.0.2", 80, "c1"),
                  Port("udp", "192.168.1.5", 53, "10.89.0.3", 5353, "", "br1"),
                  Port("tcp", "127.0.0.1", 8081, "10.88.0.4", 81, "c4")};
  return config;
}

// The script minus its leading "add table" and "delete table": what `nft list` prints back.
std::string TableBody(const FirewallConfig& config) {
  std::string script = RenderFirewall(config);
  for (int i = 0; i < 4; ++i) script.erase(0, script.find('\n') + 1);
  return script.substr(0, script.find("table ip6 "));
}

TEST(RenderFirewallTest, SmallConfigExactText) {
  EXPECT_EQ(RenderFirewall(SmallConfig()),
            "add table ip berth\n"
            "delete table ip berth\n"
            "add table ip6 berth\n"
            "delete table ip6 berth\n"
            "table ip berth {\n"
            "\tchain raw_prerouting {\n"
            "\t\ttype filter hook prerouting priority raw; policy accept;\n"
            "\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 drop\n"
            "\t\tiifname != \"br0\" ip daddr 10.88.0.4 tcp dport 81 drop\n"
            "\t}\n"
            "\n"
            "\tchain prerouting {\n"
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
            "\t\tfib daddr type local tcp dport 8080 dnat to 10.88.0.2:80 comment \"c1\"\n"
            "\t\tip daddr 192.168.1.5 udp dport 53 dnat to 10.89.0.3:5353\n"
            "\t}\n"
            "\n"
            "\tchain output {\n"
            "\t\ttype nat hook output priority -100; policy accept;\n"
            "\t\tfib daddr type local tcp dport 8080 dnat to 10.88.0.2:80 comment \"c1\"\n"
            "\t\tip daddr 192.168.1.5 udp dport 53 dnat to 10.89.0.3:5353\n"
            "\t\tip daddr 127.0.0.1 tcp dport 8081 dnat to 10.88.0.4:81 comment \"c4\"\n"
            "\t}\n"
            "\n"
            "\tchain postrouting {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            "\t\toifname \"br0\" ct status dnat ip saddr 10.88.0.0/16 masquerade\n"
            "\t\toifname \"br0\" ip saddr 127.0.0.0/8 masquerade\n"
            "\t\tip saddr 10.88.0.0/16 oifname != { \"lo\", \"br0\", \"br1\" } masquerade\n"
            "\t\toifname \"br1\" ct status dnat ip saddr 10.89.0.0/24 masquerade\n"
            "\t\toifname \"br1\" ip saddr 127.0.0.0/8 masquerade\n"
            "\t\tip saddr 10.89.0.0/24 oifname != { \"lo\", \"br0\", \"br1\" } masquerade\n"
            "\t}\n"
            "\n"
            "\tchain forward {\n"
            "\t\ttype filter hook forward priority filter; policy accept;\n"
            "\t\tiifname \"br0\" oifname \"br1\" drop\n"
            "\t\tiifname \"br1\" oifname \"br0\" drop\n"
            "\t}\n"
            "}\n");
}

TEST(RenderFirewallTest, EmptyConfigKeepsEmptyChains) {
  FirewallConfig config;
  config.table = "t1";
  EXPECT_EQ(RenderFirewall(config),
            "add table ip t1\n"
            "delete table ip t1\n"
            "add table ip6 t1\n"
            "delete table ip6 t1\n"
            "table ip t1 {\n"
            "\tchain raw_prerouting {\n"
            "\t\ttype filter hook prerouting priority raw; policy accept;\n"
            "\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 drop\n"
            "\t}\n"
            "\n"
            "\tchain prerouting {\n"
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
            "\t}\n"
            "\n"
            "\tchain output {\n"
            "\t\ttype nat hook output priority -100; policy accept;\n"
            "\t}\n"
            "\n"
            "\tchain postrouting {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            "\t}\n"
            "\n"
            "\tchain forward {\n"
            "\t\ttype filter hook forward priority filter; policy accept;\n"
            "\t}\n"
            "}\n");
}

TEST(RenderFirewallTest, IsolatesEveryNetworkFromAllOthersWithoutOutboundNat) {
  FirewallConfig config;
  config.networks = {{"a", Net("10.1.0.0/24")}, {"b", Net("10.2.0.0/24")},
                     {"c", Net("10.3.0.0/24")}};
  std::string script = RenderFirewall(config);
  EXPECT_THAT(script, HasSubstr("\t\tiifname \"a\" oifname { \"b\", \"c\" } drop\n"
                                "\t\tiifname \"b\" oifname { \"a\", \"c\" } drop\n"
                                "\t\tiifname \"c\" oifname { \"a\", \"b\" } drop\n"));
  EXPECT_THAT(script, Not(HasSubstr("oifname !=")));
  EXPECT_EQ(script, RenderFirewall(config));  // deterministic
}

FirewallConfig DualStackConfig() {
  FirewallConfig config;
  BridgeNetwork v6net{"br6", Net("10.90.0.0/24"), true};
  v6net.subnet6 = ParseIpv6Prefix("fd00:90::/64").value();
  config.networks = {{"br0", Net("10.88.0.0/16"), true}, v6net};
  PublishedPort everywhere = Port("tcp", "0.0.0.0", 8080, "10.90.0.2", 80, "c6", "br6");
  everywhere.container_ip6 = ParseIpv6("fd00:90::2").value();
  PublishedPort v4_only = Port("udp", "192.168.1.5", 53, "10.90.0.2", 53, "", "br6");
  v4_only.container_ip6 = everywhere.container_ip6;
  config.ports = {everywhere, v4_only};
  return config;
}

TEST(RenderFirewallTest, Ipv6NetworksGetAnIp6Table) {
  std::string script = RenderFirewall(DualStackConfig());
  size_t v6 = script.find("table ip6 berth {\n");
  ASSERT_NE(v6, std::string::npos) << script;
  std::string table6 = script.substr(v6);
  EXPECT_THAT(table6, HasSubstr("\t\tfib daddr type local tcp dport 8080 dnat to [fd00:90::2]:80 comment \"c6\"\n"));
  // A port published on one IPv4 address stays IPv4.
  EXPECT_THAT(table6, Not(HasSubstr("dport 53")));
  EXPECT_THAT(table6, HasSubstr("\t\toifname \"br6\" ct status dnat ip6 saddr fd00:90::/64 masquerade\n"));
  EXPECT_THAT(table6, HasSubstr("\t\tip6 saddr fd00:90::/64 oifname != { \"lo\", \"br0\", \"br6\" } masquerade\n"));
  EXPECT_THAT(table6, HasSubstr("\t\tiifname \"br6\" oifname \"br0\" drop\n"));
  // Without an IPv6 network there is no ip6 table, only its removal.
  EXPECT_THAT(RenderFirewall(SmallConfig()), Not(HasSubstr("table ip6 berth {")));
}

TEST(RenderFirewallTest, CommentsCannotBreakOutOfTheirQuotes) {
  FirewallConfig config;
  config.ports = {Port("tcp", "0.0.0.0", 1, "10.0.0.2", 1, "a\"b\nc; }\\d$e\x01"),
                  Port("tcp", "0.0.0.0", 2, "10.0.0.2", 2, std::string(300, 'x'))};
  std::string script = RenderFirewall(config);
  EXPECT_THAT(script, HasSubstr("comment \"a_b_c_ __d_e_\"\n"));
  EXPECT_THAT(script, HasSubstr(absl::StrCat("comment \"", std::string(128, 'x'), "\"\n")));
}

// Root tests: a fresh netns per test; every Firewall is created inside it (which binds it
// there) and used only on RunInNetns threads.
class FirewallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    absl::StatusOr<UniqueFd> netns = CreateNetns();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = std::move(*netns);
  }

  // Runs `body` with a Firewall inside this test's netns.
  void InNetns(const std::function<void(Firewall&)>& body) {
    absl::Status status = RunInNetns(netns_.get(), [&] {
      absl::StatusOr<Firewall> fw = Firewall::Create();
      if (!fw.ok()) return fw.status();
      body(*fw);
      return absl::OkStatus();
    });
    ASSERT_TRUE(status.ok()) << status;
  }

  UniqueFd netns_;
};

TEST_F(FirewallTest, ApplyThenListShowsTheRules) {
  InNetns([](Firewall& fw) {
    FirewallConfig config = SmallConfig();
    ASSERT_TRUE(fw.Apply(config).ok());
    absl::StatusOr<std::string> listed = fw.List("berth");
    ASSERT_TRUE(listed.ok()) << listed.status();
    // What the kernel holds is exactly what was described.
    EXPECT_EQ(*listed, TableBody(config));
  });
}

TEST_F(FirewallTest, Ip6TableComesAndGoesWithIpv6Networks) {
  InNetns([](Firewall& fw) {
    absl::Status applied = fw.Apply(DualStackConfig());
    ASSERT_TRUE(applied.ok()) << applied;
    std::string listed = fw.List("berth", "ip6").value_or("<error>");
    EXPECT_THAT(listed, HasSubstr("dnat to [fd00:90::2]:80"));
    EXPECT_THAT(listed, HasSubstr("ip6 saddr fd00:90::/64"));
    ASSERT_TRUE(fw.Apply(SmallConfig()).ok());
    EXPECT_EQ(fw.List("berth", "ip6").value_or("<error>"), "");
    ASSERT_TRUE(fw.Apply(DualStackConfig()).ok());
    ASSERT_TRUE(fw.Delete("berth").ok());
    EXPECT_EQ(fw.List("berth", "ip6").value_or("<error>"), "");
    EXPECT_EQ(fw.List("berth").value_or("<error>"), "");
  });
}

TEST_F(FirewallTest, ListMatchesRenderWithThreeNetworks) {
  InNetns([](Firewall& fw) {
    FirewallConfig config;
    config.networks = {{"a", Net("10.1.0.0/24")}, {"b", Net("10.2.0.0/24")},
                       {"c", Net("10.3.0.0/24")}};
    ASSERT_TRUE(fw.Apply(config).ok());
    EXPECT_EQ(fw.List("berth").value_or("<error>"), TableBody(config));
  });
}

TEST_F(FirewallTest, ApplyAgainReplacesTheTable) {
  InNetns([](Firewall& fw) {
    ASSERT_TRUE(fw.Apply(SmallConfig()).ok());
    FirewallConfig next;
    next.networks = {{"br7", Net("10.77.0.0/16")}};
    next.ports = {Port("tcp", "0.0.0.0", 9090, "10.77.0.9", 90, "c9")};
    absl::Status applied = fw.Apply(next);
    ASSERT_TRUE(applied.ok()) << applied;
    std::string listed = fw.List("berth").value_or("<error>");
    EXPECT_EQ(listed, TableBody(next));
    EXPECT_THAT(listed, Not(HasSubstr("8080")));
    EXPECT_THAT(listed, Not(HasSubstr("br0")));
  });
}

TEST_F(FirewallTest, DeleteLeavesNoTableAndIsOkWhenAbsent) {
  InNetns([](Firewall& fw) {
    EXPECT_EQ(fw.List("berth").value_or("<error>"), "");
    EXPECT_TRUE(fw.Delete("berth").ok());
    ASSERT_TRUE(fw.Apply(SmallConfig()).ok());
    FirewallConfig other;
    other.table = "other";
    ASSERT_TRUE(fw.Apply(other).ok());
    absl::Status deleted = fw.Delete("berth");
    EXPECT_TRUE(deleted.ok()) << deleted;
    EXPECT_EQ(fw.List("berth").value_or("<error>"), "");
    EXPECT_TRUE(fw.Delete("berth").ok());
    // Only the named table goes.
    EXPECT_EQ(fw.List("other").value_or("<error>"), TableBody(other));
    EXPECT_TRUE(fw.Delete("other").ok());
    EXPECT_EQ(fw.List("other").value_or("<error>"), "");
  });
}

TEST_F(FirewallTest, InvalidInputIsRejectedAndThePreviousTableStays) {
  InNetns([](Firewall& fw) {
    ASSERT_TRUE(fw.Apply(SmallConfig()).ok());
    const std::string before = fw.List("berth").value_or("<error>");
    ASSERT_EQ(before, TableBody(SmallConfig()));

    struct Case {
      const char* field;
      std::function<void(FirewallConfig&)> mutate;
    };
    std::vector<Case> cases = {
        {"table", [](FirewallConfig& c) { c.table = "bad\"name"; }},
        {"table", [](FirewallConfig& c) { c.table = ""; }},
        {"networks[1].bridge", [](FirewallConfig& c) { c.networks[1].bridge = "br\" drop"; }},
        {"networks[1].bridge", [](FirewallConfig& c) { c.networks[1].bridge = ""; }},
        {"networks[0].bridge", [](FirewallConfig& c) { c.networks[0].bridge = "a23456789012345X"; }},
        {"networks[1].bridge", [](FirewallConfig& c) { c.networks[1].bridge = "br0"; }},
        {"networks[0].subnet", [](FirewallConfig& c) { c.networks[0].subnet = Net("10.88.0.1/16"); }},
        {"networks[0].subnet", [](FirewallConfig& c) { c.networks[0].subnet = Net("0.0.0.0/0"); }},
        {"ports[0].protocol", [](FirewallConfig& c) { c.ports[0].protocol = "sctp"; }},
        {"ports[1].protocol", [](FirewallConfig& c) { c.ports[1].protocol = "TCP"; }},
        {"ports[1].host_port", [](FirewallConfig& c) { c.ports[1].host_port = 0; }},
        {"ports[0].container_port", [](FirewallConfig& c) { c.ports[0].container_port = 0; }},
        {"ports[0].container_ip", [](FirewallConfig& c) { c.ports[0].container_ip = Ipv4Address{}; }},
        {"ports[2].bridge", [](FirewallConfig& c) { c.ports[2].bridge = "br\" accept"; }},
        {"ports[4]", [](FirewallConfig& c) {
           c.ports.push_back(Port("tcp", "127.0.0.1", 8080, "10.88.0.3", 81));
         }},
    };
    for (const Case& tc : cases) {
      FirewallConfig config = SmallConfig();
      config.ports.push_back(Port("tcp", "0.0.0.0", 7000, "10.88.0.5", 70));  // a new rule
      tc.mutate(config);
      absl::Status st = fw.Apply(config);
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << tc.field << ": " << st;
      EXPECT_THAT(std::string(st.message()), HasSubstr(tc.field));
      EXPECT_EQ(fw.List("berth").value_or("<error>"), before) << tc.field;
    }
    // A script nft's own parser refuses (a keyword as table name) is INVALID_ARGUMENT too.
    FirewallConfig keyword = SmallConfig();
    keyword.table = "chain";
    absl::Status st = fw.Apply(keyword);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr("nft: "));
    EXPECT_EQ(fw.List("berth").value_or("<error>"), before);
  });
}

TEST_F(FirewallTest, TwoHundredCyclesOfAddAndRemoveEndExact) {
  InNetns([](Firewall& fw) {
    FirewallConfig base = SmallConfig();
    for (int i = 0; i < 200; ++i) {
      FirewallConfig with = base;
      uint16_t port = static_cast<uint16_t>(20000 + i);
      with.ports.push_back(Port(i % 2 ? "udp" : "tcp", "0.0.0.0", port, "10.88.0.7", port,
                                absl::StrCat("cycle", i)));
      absl::Status st = fw.Apply(with);
      ASSERT_TRUE(st.ok()) << "cycle " << i << ": " << st;
      if (i % 50 == 0) {
        ASSERT_EQ(fw.List("berth").value_or("<error>"), TableBody(with));
      }
      st = fw.Apply(base);
      ASSERT_TRUE(st.ok()) << "cycle " << i << ": " << st;
    }
    std::string listed = fw.List("berth").value_or("<error>");
    EXPECT_EQ(listed, TableBody(base));
    EXPECT_THAT(listed, Not(HasSubstr("cycle")));
  });
}

TEST_F(FirewallTest, MedianApplyTimeWithTenPorts) {
  InNetns([](Firewall& fw) {
    FirewallConfig config = SmallConfig();
    config.ports.clear();
    for (int i = 0; i < 10; ++i) {
      config.ports.push_back(Port(i % 2 ? "udp" : "tcp", "0.0.0.0", 30000 + i,
                                  absl::StrCat("10.88.0.", 10 + i).c_str(), 80, "c"));
    }
    std::vector<double> ms;
    for (int i = 0; i < 51; ++i) {
      auto start = std::chrono::steady_clock::now();
      absl::Status st = fw.Apply(config);
      auto end = std::chrono::steady_clock::now();
      ASSERT_TRUE(st.ok()) << st;
      ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    }
    std::sort(ms.begin(), ms.end());
    std::cout << "[ measure  ] Apply with 10 ports: median " << ms[ms.size() / 2] << " ms, min "
              << ms.front() << " ms, max " << ms.back() << " ms (51 runs)\n";
  });
}

TEST_F(FirewallTest, MovedFromFirewallRefusesAndMovedToWorks) {
  InNetns([](Firewall& fw) {
    Firewall moved(std::move(fw));
    EXPECT_EQ(fw.Apply(SmallConfig()).code(), absl::StatusCode::kFailedPrecondition);
    absl::StatusOr<Firewall> other = Firewall::Create();
    ASSERT_TRUE(other.ok()) << other.status();
    *other = std::move(moved);  // frees other's own context
    EXPECT_TRUE(other->Apply(SmallConfig()).ok());
    EXPECT_EQ(other->List("berth").value_or("<error>"), TableBody(SmallConfig()));
  });
}

// libnftables opens its socket in nft_ctx_new: a Firewall made in a netns keeps acting there
// from any thread. Only a read (List) runs on this, the host's, thread.
TEST_F(FirewallTest, StaysBoundToTheNetnsItWasCreatedIn) {
  std::optional<Firewall> fw;
  absl::Status made = RunInNetns(netns_.get(), [&]() -> absl::Status {
    absl::StatusOr<Firewall> created = Firewall::Create();
    if (!created.ok()) return created.status();
    FirewallConfig config;
    config.table = "berth_bound_probe";
    if (absl::Status st = created->Apply(config); !st.ok()) return st;
    fw.emplace(std::move(*created));
    return absl::OkStatus();
  });
  ASSERT_TRUE(made.ok()) << made;
  absl::StatusOr<std::string> listed = fw->List("berth_bound_probe");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, HasSubstr("table ip berth_bound_probe {"));
}

}  // namespace
}  // namespace berth::net
