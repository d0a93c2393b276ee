// IPv4 values: parsing (and its error messages), formatting, masks, containment, overlap.
#include <arpa/inet.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/network/ipv4.h"

namespace berth::net {
namespace {

using ::testing::HasSubstr;

Ipv4Address Addr(absl::string_view text) {
  absl::StatusOr<Ipv4Address> a = ParseIpv4(text);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.value_or(Ipv4Address{});
}

Ipv4Prefix Prefix(absl::string_view text) {
  absl::StatusOr<Ipv4Prefix> p = ParseIpv4Prefix(text);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.value_or(Ipv4Prefix{});
}

TEST(Ipv4AddressTest, ParsesDottedQuadInHostOrder) {
  EXPECT_EQ(Addr("10.88.0.1").value, 0x0a580001u);
  EXPECT_EQ(Addr("0.0.0.0").value, 0u);
  EXPECT_EQ(Addr("255.255.255.255").value, 0xffffffffu);
  EXPECT_EQ(Addr("192.168.1.200").value, 0xc0a801c8u);
}

TEST(Ipv4AddressTest, FormatsAndRoundTrips) {
  for (const char* text : {"10.88.0.1", "0.0.0.0", "255.255.255.255", "172.16.5.9", "1.2.3.4"}) {
    EXPECT_EQ(Addr(text).ToString(), text);
  }
}

TEST(Ipv4AddressTest, NetworkOrderMatchesInetPton) {
  in_addr expected{};
  ASSERT_EQ(inet_pton(AF_INET, "10.88.0.1", &expected), 1);
  EXPECT_EQ(Addr("10.88.0.1").NetworkOrder(), expected.s_addr);
}

TEST(Ipv4AddressTest, UnspecifiedAndOrdering) {
  EXPECT_TRUE(Ipv4Address{}.IsUnspecified());
  EXPECT_FALSE(Addr("0.0.0.1").IsUnspecified());
  EXPECT_LT(Addr("10.88.0.2"), Addr("10.88.0.10"));
  EXPECT_LT(Addr("9.255.255.255"), Addr("10.0.0.0"));
}

TEST(Ipv4AddressTest, RejectsMalformedText) {
  for (const char* text :
       {"", "10.88.0", "10.88.0.1.5", "256.0.0.1", "10.88.0.-1", "10..0.1", "a.b.c.d", " 10.88.0.1",
        "10.88.0.1 ", "010.88.0.1", "10.88.0.1/16", "+1.2.3.4", "1.2.3.4.", "1000.0.0.1", "0x0a.0.0.1"}) {
    absl::StatusOr<Ipv4Address> a = ParseIpv4(text);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << text << "\"";
  }
}

TEST(Ipv4AddressTest, ErrorNamesWhatAndText) {
  absl::StatusOr<Ipv4Address> a = ParseIpv4("10.88.0.300", "gateway");
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("gateway"));
  EXPECT_THAT(a.status().message(), HasSubstr("10.88.0.300"));
}

TEST(Ipv4PrefixTest, ParsesAndKeepsHostBits) {
  Ipv4Prefix p = Prefix("10.88.0.1/16");
  EXPECT_EQ(p.address, Addr("10.88.0.1"));
  EXPECT_EQ(p.length, 16);
  EXPECT_EQ(p.ToString(), "10.88.0.1/16");
  EXPECT_EQ(p.Network().ToString(), "10.88.0.0/16");
  EXPECT_EQ(p.Broadcast(), Addr("10.88.255.255"));
  EXPECT_EQ(p.Size(), 65536u);
}

TEST(Ipv4PrefixTest, MasksAtTheEdges) {
  EXPECT_EQ(Prefix("0.0.0.0/0").Mask(), 0u);
  EXPECT_EQ(Prefix("10.0.0.0/8").Mask(), 0xff000000u);
  EXPECT_EQ(Prefix("10.88.0.0/16").Mask(), 0xffff0000u);
  EXPECT_EQ(Prefix("10.88.0.0/23").Mask(), 0xfffffe00u);
  EXPECT_EQ(Prefix("10.88.0.7/32").Mask(), 0xffffffffu);
  EXPECT_EQ(Prefix("10.88.0.7/32").Network().address, Addr("10.88.0.7"));
  EXPECT_EQ(Prefix("10.88.0.7/32").Broadcast(), Addr("10.88.0.7"));
  EXPECT_EQ(Prefix("10.88.0.7/32").Size(), 1u);
  EXPECT_EQ(Prefix("1.2.3.4/0").Network().address, Ipv4Address{});
  EXPECT_EQ(Prefix("1.2.3.4/0").Broadcast(), Addr("255.255.255.255"));
  EXPECT_EQ(Prefix("0.0.0.0/0").Size(), uint64_t{1} << 32);
}

TEST(Ipv4PrefixTest, Contains) {
  Ipv4Prefix subnet = Prefix("10.88.0.0/16");
  EXPECT_TRUE(subnet.Contains(Addr("10.88.0.0")));
  EXPECT_TRUE(subnet.Contains(Addr("10.88.0.1")));
  EXPECT_TRUE(subnet.Contains(Addr("10.88.255.255")));
  EXPECT_FALSE(subnet.Contains(Addr("10.89.0.1")));
  EXPECT_FALSE(subnet.Contains(Addr("10.87.255.255")));
  EXPECT_TRUE(Prefix("10.88.0.1/16").Contains(Addr("10.88.3.4")));  // host bits do not matter
  EXPECT_TRUE(Prefix("0.0.0.0/0").Contains(Addr("8.8.8.8")));
  EXPECT_TRUE(Prefix("10.0.0.5/32").Contains(Addr("10.0.0.5")));
  EXPECT_FALSE(Prefix("10.0.0.5/32").Contains(Addr("10.0.0.4")));
}

TEST(Ipv4PrefixTest, Overlaps) {
  EXPECT_TRUE(Prefix("10.88.0.0/16").Overlaps(Prefix("10.88.5.0/24")));
  EXPECT_TRUE(Prefix("10.88.5.0/24").Overlaps(Prefix("10.88.0.0/16")));
  EXPECT_TRUE(Prefix("10.0.0.0/8").Overlaps(Prefix("10.88.0.0/16")));
  EXPECT_TRUE(Prefix("10.88.0.0/16").Overlaps(Prefix("10.88.0.0/16")));
  EXPECT_TRUE(Prefix("0.0.0.0/0").Overlaps(Prefix("192.168.0.0/16")));
  EXPECT_FALSE(Prefix("10.88.0.0/16").Overlaps(Prefix("10.89.0.0/16")));
  EXPECT_FALSE(Prefix("10.88.0.0/24").Overlaps(Prefix("10.88.1.0/24")));
  EXPECT_FALSE(Prefix("172.16.0.0/12").Overlaps(Prefix("172.32.0.0/16")));
  EXPECT_TRUE(Prefix("172.16.0.0/12").Overlaps(Prefix("172.31.255.0/24")));
}

TEST(Ipv4PrefixTest, RejectsMalformedText) {
  for (const char* text : {"10.88.0.0", "10.88.0.0/", "10.88.0.0/33", "10.88.0.0/-1", "10.88.0.0/016",
                           "10.88.0.0/1a", "10.88.0/16", "/16", "10.88.0.0/16/1", "10.88.0.0 /16", ""}) {
    absl::StatusOr<Ipv4Prefix> p = ParseIpv4Prefix(text);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << text << "\"";
  }
}

TEST(Ipv4PrefixTest, ErrorsSayWhatIsWrong) {
  absl::StatusOr<Ipv4Prefix> missing = ParseIpv4Prefix("10.88.0.0", "--subnet");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("--subnet"));
  EXPECT_THAT(missing.status().message(), HasSubstr("prefix length"));

  absl::StatusOr<Ipv4Prefix> too_long = ParseIpv4Prefix("10.88.0.0/40");
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(too_long.status().message(), HasSubstr("0-32"));
  EXPECT_THAT(too_long.status().message(), HasSubstr("10.88.0.0/40"));
}

TEST(MacForAddressTest, LocallyAdministeredFromTheAddressBytes) {
  EXPECT_EQ(MacForAddress(Addr("10.88.0.2")), "02:42:0a:58:00:02");
  EXPECT_EQ(MacForAddress(Addr("172.17.255.254")), "02:42:ac:11:ff:fe");
  EXPECT_EQ(MacForAddress(Ipv4Address{}), "02:42:00:00:00:00");
}

}  // namespace
}  // namespace berth::net
