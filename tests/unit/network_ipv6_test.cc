// IPv6 values: parsing (and its refusals), canonical text, prefixes, and the offset arithmetic
// the agent numbers v6 addresses with.
#include "runtime/network/ipv6.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::net {
namespace {

using ::testing::HasSubstr;

Ipv6Address A(const char* text) { return ParseIpv6(text).value(); }
Ipv6Prefix P(const char* text) { return ParseIpv6Prefix(text).value(); }

TEST(Ipv6Test, ParsesAndPrintsCanonically) {
  EXPECT_EQ(A("FD00:0:0:0:0:0:0:1").ToString(), "fd00::1");
  EXPECT_EQ(A("::1").ToString(), "::1");
  EXPECT_TRUE(A("::1").IsLoopback());
  EXPECT_TRUE(A("::").IsUnspecified());
  EXPECT_EQ(P("fd00:b1::/64").ToString(), "fd00:b1::/64");
}

TEST(Ipv6Test, RefusesWhatIsNotIpv6WithTheValueQuoted) {
  for (const char* bad : {"10.0.0.1", "fd00::g", "", "1:2:3:4:5:6:7:8:9"}) {
    auto a = ParseIpv6(bad, "ipv6_gateway");
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_THAT(std::string(a.status().message()), HasSubstr("ipv6_gateway"));
  }
  EXPECT_THAT(std::string(ParseIpv6Prefix("fd00::").status().message()), HasSubstr("no prefix length"));
  EXPECT_THAT(std::string(ParseIpv6Prefix("fd00::/129").status().message()), HasSubstr("0..128"));
  EXPECT_THAT(std::string(ParseIpv6Prefix("fd00::/x").status().message()), HasSubstr("0..128"));
  EXPECT_THAT(std::string(ParseIpv6(std::string(5000, 'f')).status().message()), HasSubstr("bytes)"));
}

TEST(Ipv6Test, PrefixesContainOverlapAndClearHostBits) {
  Ipv6Prefix p = P("fd00:b1::5/64");
  EXPECT_EQ(p.Network().ToString(), "fd00:b1::/64");
  EXPECT_TRUE(p.Contains(A("fd00:b1::ffff")));
  EXPECT_FALSE(p.Contains(A("fd00:b2::1")));
  EXPECT_TRUE(P("fd00:b1::/48").Overlaps(P("fd00:b1:0:7::/64")));
  EXPECT_FALSE(P("fd00:b1::/64").Overlaps(P("fd00:b1:0:1::/64")));
  EXPECT_EQ(P("fd00::/7").Network().ToString(), "fc00::/7");
}

TEST(Ipv6Test, PlusCarriesAndHostOffsetInverts) {
  EXPECT_EQ(A("fd00::ff").Plus(1).ToString(), "fd00::100");
  EXPECT_EQ(A("fd00::ffff:ffff").Plus(1).ToString(), "fd00::1:0:0");
  EXPECT_EQ(A("fd00::").Plus(65536 + 2).ToString(), "fd00::1:2");
  uint64_t offset = 0;
  ASSERT_TRUE(P("fd00:b1::/64").HostOffset(A("fd00:b1::1:2"), &offset));
  EXPECT_EQ(offset, 65538u);
  EXPECT_FALSE(P("fd00:b1::/64").HostOffset(A("fd00:b2::1"), &offset));
  // Beyond 64 bits of difference there is no offset.
  EXPECT_FALSE(P("fd00::/32").HostOffset(A("fd00:0:1::"), &offset));
}

}  // namespace
}  // namespace berth::net
