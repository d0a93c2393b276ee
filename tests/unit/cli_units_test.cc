// berth CLI: memory sizes, CPU counts, --since, --tail, signal names, --host.
#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "cli/host_target.h"
#include "cli/signal_names.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

TEST(ParseMemoryBytes, PlainBytes) {
  EXPECT_EQ(*ParseMemoryBytes("0"), 0);
  EXPECT_EQ(*ParseMemoryBytes("67108864"), 67108864);
  EXPECT_EQ(*ParseMemoryBytes("100b"), 100);
}

TEST(ParseMemoryBytes, SuffixesArePowersOf1024) {
  EXPECT_EQ(*ParseMemoryBytes("512k"), 512 * 1024);
  EXPECT_EQ(*ParseMemoryBytes("64m"), 64LL << 20);
  EXPECT_EQ(*ParseMemoryBytes("64M"), 64LL << 20);
  EXPECT_EQ(*ParseMemoryBytes("64mb"), 64LL << 20);
  EXPECT_EQ(*ParseMemoryBytes("64MiB"), 64LL << 20);
  EXPECT_EQ(*ParseMemoryBytes("1g"), 1LL << 30);
  EXPECT_EQ(*ParseMemoryBytes("2t"), 2LL << 40);
  EXPECT_EQ(*ParseMemoryBytes("1 g"), 1LL << 30);
}

TEST(ParseMemoryBytes, FractionsTruncateToBytes) {
  EXPECT_EQ(*ParseMemoryBytes("1.5g"), 3LL << 29);
  EXPECT_EQ(*ParseMemoryBytes("0.5k"), 512);
  EXPECT_EQ(*ParseMemoryBytes("1.0001k"), 1024);
}

TEST(ParseMemoryBytes, RejectsGarbage) {
  for (const char* bad : {"", "m", "-1", "64x", "64mm", "1.2.3m", "g64", " 64m", "64m ", "1e3",
                          "64 ", ".5g", "64ib"}) {
    EXPECT_FALSE(ParseMemoryBytes(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseMemoryBytes("9000000p").ok());  // past int64
}

TEST(ParseCpuMillis, DecimalsToMillis) {
  EXPECT_EQ(*ParseCpuMillis("0.5"), 500);
  EXPECT_EQ(*ParseCpuMillis("2"), 2000);
  EXPECT_EQ(*ParseCpuMillis("1.25"), 1250);
  EXPECT_EQ(*ParseCpuMillis("0.001"), 1);
  EXPECT_EQ(*ParseCpuMillis(".5"), 500);
  EXPECT_EQ(*ParseCpuMillis("1."), 1000);
  EXPECT_EQ(*ParseCpuMillis("0.5000"), 500);
  EXPECT_EQ(*ParseCpuMillis("0"), 0);
}

TEST(ParseCpuMillis, RejectsTooPreciseAndGarbage) {
  EXPECT_FALSE(ParseCpuMillis("0.0005").ok());
  EXPECT_FALSE(ParseCpuMillis("1.2345").ok());
  for (const char* bad : {"", ".", "-1", "abc", "1e3", "0.5cpu", "1,5", "99999999999"}) {
    EXPECT_FALSE(ParseCpuMillis(bad).ok()) << bad;
  }
}

TEST(ParseSince, DurationsCountBackFromNow) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(*ParseSince("10m", now), now - absl::Minutes(10));
  EXPECT_EQ(*ParseSince("1h30m", now), now - absl::Minutes(90));
  EXPECT_EQ(*ParseSince("90s", now), now - absl::Seconds(90));
  EXPECT_FALSE(ParseSince("-10m", now).ok());
}

TEST(ParseSince, AbsoluteTimes) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  EXPECT_EQ(*ParseSince("2023-11-14T22:13:20Z", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseSince("2023-11-14T23:13:20+01:00", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseSince("2023-11-14T22:13:20.5Z", now),
            absl::FromUnixSeconds(1700000000) + absl::Milliseconds(500));
  EXPECT_EQ(*ParseSince("1700000000", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseSince("1700000000.25", now),
            absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250));
  EXPECT_TRUE(ParseSince("2023-11-14", now).ok());           // local midnight
  EXPECT_TRUE(ParseSince("2023-11-14T22:13:20", now).ok());  // local time
}

TEST(ParseSince, RejectsGarbage) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  for (const char* bad : {"", "yesterday", "10x", "2023-13-45"}) {
    EXPECT_FALSE(ParseSince(bad, now).ok()) << bad;
  }
}

TEST(ParseTail, AllOrCount) {
  EXPECT_EQ(*ParseTail("all"), -1);
  EXPECT_EQ(*ParseTail("0"), 0);
  EXPECT_EQ(*ParseTail("25"), 25);
  EXPECT_FALSE(ParseTail("-1").ok());
  EXPECT_FALSE(ParseTail("ten").ok());
  EXPECT_FALSE(ParseTail("").ok());
}

TEST(ParseSignal, NumbersAndNames) {
  EXPECT_EQ(*ParseSignal("9"), 9);
  EXPECT_EQ(*ParseSignal("KILL"), 9);
  EXPECT_EQ(*ParseSignal("SIGKILL"), 9);
  EXPECT_EQ(*ParseSignal("sigterm"), 15);
  EXPECT_EQ(*ParseSignal("hup"), 1);
  EXPECT_EQ(*ParseSignal("USR1"), 10);
  EXPECT_EQ(*ParseSignal("SIGWINCH"), 28);
  EXPECT_EQ(*ParseSignal("64"), 64);
}

TEST(ParseSignal, RejectsUnknown) {
  for (const char* bad : {"", "0", "65", "999", "SIG", "BOGUS", "-9", "SIGKILLX", "9a"}) {
    EXPECT_FALSE(ParseSignal(bad).ok()) << bad;
  }
}

TEST(ResolveHostTarget, Forms) {
  EXPECT_EQ(*ResolveHostTarget(""), "unix:///run/berth/berth.sock");
  EXPECT_EQ(*ResolveHostTarget("unix:///tmp/b.sock"), "unix:///tmp/b.sock");
  EXPECT_EQ(*ResolveHostTarget("/tmp/b.sock"), "unix:///tmp/b.sock");
  EXPECT_EQ(*ResolveHostTarget("tcp://10.0.0.1:7443"), "dns:///10.0.0.1:7443");
  EXPECT_EQ(*ResolveHostTarget("node1:7443"), "dns:///node1:7443");
  EXPECT_EQ(*ResolveHostTarget("[::1]:7443"), "dns:///[::1]:7443");
  EXPECT_EQ(*ResolveHostTarget("ipv4:127.0.0.1:7443"), "ipv4:127.0.0.1:7443");
}

TEST(ResolveHostTarget, RejectsBadForms) {
  for (const char* bad : {"unix://", "http://node1:80", "node1", "node1:", ":7443", "node1:port",
                          "::1:7443"}) {
    EXPECT_FALSE(ResolveHostTarget(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace berth::cli
