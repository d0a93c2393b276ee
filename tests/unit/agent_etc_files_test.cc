#include "agent/etc_files.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

TEST(EtcFilesTest, HostsHasLocalhostOwnAddressAndExtras) {
  auto extra = ParseExtraHosts({"db:10.1.2.3", "cache.internal:192.0.2.7"});
  ASSERT_TRUE(extra.ok()) << extra.status();
  std::string hosts = RenderHosts({"10.88.0.5", "abc123 web"}, *extra);
  EXPECT_NE(hosts.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.88.0.5\tabc123 web\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.1.2.3\tdb\n"), std::string::npos);
  EXPECT_NE(hosts.find("192.0.2.7\tcache.internal\n"), std::string::npos);
  // No own line without an address (network "none").
  EXPECT_EQ(RenderHosts({"", "x"}, {}).find("\tx"), std::string::npos);
}

TEST(EtcFilesTest, BadExtraHostsAreInvalidArgument) {
  for (const char* bad : {"nocolon", "db:", "db:10.1.2", ":10.1.2.3", "bad name:10.1.2.3", "db:10.1.2.300"}) {
    auto r = ParseExtraHosts({bad});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("extra_hosts[0]"), absl::string_view::npos) << r.status();
  }
}

TEST(EtcFilesTest, ResolvConfTakesGivenServersOverTheNodes) {
  auto r = RenderResolvConf({"192.0.2.53"}, {"example.internal"}, "nameserver 10.0.0.1\nsearch corp\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "nameserver 192.0.2.53\nsearch example.internal\n");
}

TEST(EtcFilesTest, ResolvConfDropsLoopbackNameserversOfTheNode) {
  auto r = RenderResolvConf({}, {}, "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch corp lan\n"
                                    "options edns0\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "nameserver 10.0.0.1\nsearch corp lan\noptions edns0\n");
  // Only a loopback resolver on the node: no nameserver line at all is fine.
  auto empty = RenderResolvConf({}, {}, "nameserver 127.0.0.53\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(EtcFilesTest, ResolvConfOptionsReplaceTheNodes) {
  auto r = RenderResolvConf({"192.0.2.53"}, {}, "nameserver 10.0.0.1\noptions edns0 rotate\n", {"ndots:5", "edns0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "nameserver 192.0.2.53\noptions ndots:5 edns0\n");
  auto bad = RenderResolvConf({}, {}, "", {"ndots:5 rotate"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("dns_options[0]"));
}

TEST(EtcFilesTest, ResolvConfRejectsBadInput) {
  EXPECT_EQ(RenderResolvConf({"dns.example"}, {}, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderResolvConf({}, {"bad domain"}, "").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::agent
