// berth CLI: memory sizes, CPU counts, --since, --tail, signal names, --host addresses and the
// TLS files they need.
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "cli/host_target.h"
#include "runtime/base/signal_names.h"
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

std::string Uri(std::string_view host) {
  absl::StatusOr<HostAddress> a = ParseHostAddress(host);
  return a.ok() ? a->Uri() : "error: " + std::string(a.status().message());
}

TEST(ParseHostAddress, Forms) {
  EXPECT_EQ(Uri(""), "unix:///run/berth/berth.sock");
  EXPECT_EQ(Uri("unix:///tmp/b.sock"), "unix:///tmp/b.sock");
  EXPECT_EQ(Uri("/tmp/b.sock"), "unix:///tmp/b.sock");
  EXPECT_EQ(Uri("tcp://10.0.0.1:7443"), "tcp://10.0.0.1:7443");
  EXPECT_EQ(Uri("tcp://10.0.0.1:7443/"), "tcp://10.0.0.1:7443");
  EXPECT_EQ(Uri("node1:7443"), "tcp://node1:7443");
  EXPECT_EQ(Uri("tcp://node-1.example.internal:1"), "tcp://node-1.example.internal:1");
  EXPECT_EQ(Uri("[::1]:7443"), "tcp://[::1]:7443");

  HostAddress unix_socket = *ParseHostAddress("unix:///tmp/b.sock");
  EXPECT_FALSE(unix_socket.is_tcp());
  EXPECT_EQ(unix_socket.socket_path, "/tmp/b.sock");
  EXPECT_EQ(unix_socket.GrpcTarget(), "unix:///tmp/b.sock");

  HostAddress v4 = *ParseHostAddress("tcp://10.0.0.1:7443");
  EXPECT_TRUE(v4.is_tcp());
  EXPECT_EQ(v4.host, "10.0.0.1");
  EXPECT_EQ(v4.port, 7443);
  EXPECT_TRUE(v4.host_is_ip());
  EXPECT_EQ(v4.HostPort(), "10.0.0.1:7443");
  EXPECT_EQ(v4.GrpcTarget(), "dns:///10.0.0.1:7443");

  HostAddress v6 = *ParseHostAddress("tcp://[fd00::5]:7443");
  EXPECT_EQ(v6.host, "fd00::5");  // the name TLS checks: no brackets
  EXPECT_TRUE(v6.host_is_ip());
  EXPECT_EQ(v6.GrpcTarget(), "dns:///[fd00::5]:7443");

  HostAddress name = *ParseHostAddress("node1:7443");
  EXPECT_EQ(name.host, "node1");
  EXPECT_FALSE(name.host_is_ip());
}

TEST(ParseHostAddress, RejectsBadForms) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"unix://", "missing socket path"},
      {"unix://relative.sock", "must be absolute"},
      {"http://node1:80", "unsupported scheme"},
      {"ipv4:127.0.0.1:7443", "unsupported scheme"},
      {"dns:///node1:7443", "unsupported scheme"},
      {"node1", "the port is missing"},
      {"node1:", "the port is missing"},
      {":7443", "the host is missing"},
      {"node1:port", "port must be a number"},
      {"node1:0", "port must be a number"},
      {"node1:65536", "port must be a number"},
      {"::1:7443", "unsupported scheme"},
      {"[nope]:7443", "IPv6"},
      {"tcp://[::1]", "the port is missing"},
      {"no de:7443", "not a host name"},
      {"-node:7443", "not a host name"},
  };
  for (const auto& [host, message] : bad) {
    absl::StatusOr<HostAddress> a = ParseHostAddress(host);
    ASSERT_FALSE(a.ok()) << host;
    EXPECT_THAT(std::string(a.status().message()), ::testing::HasSubstr(message)) << host;
    EXPECT_THAT(std::string(a.status().message()), ::testing::HasSubstr("\"" + host + "\""));
  }
}

TEST(MakeEndpoint, TcpNeedsAllThreeTlsFilesAndUnixNone) {
  const TlsFiles all{"/ca.pem", "/cert.pem", "/key.pem"};
  absl::StatusOr<AgentEndpoint> e = MakeEndpoint("tcp://node:7443", all, "--host");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->tls, all);
  EXPECT_EQ(e->origin, "--host");
  e = MakeEndpoint("/run/b.sock", TlsFiles{}, "BERTH_HOST");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address.Uri(), "unix:///run/b.sock");

  e = MakeEndpoint("tcp://node:7443", TlsFiles{}, "--host");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "--host: tcp://node:7443 needs mutual TLS (there is no plaintext TCP): missing "
            "--tlscacert (BERTH_TLS_CACERT), --tlscert (BERTH_TLS_CERT), --tlskey (BERTH_TLS_KEY)");
  e = MakeEndpoint("node:7443", TlsFiles{"/ca.pem", "", "/key.pem"}, "BERTH_HOST");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "BERTH_HOST: tcp://node:7443 needs mutual TLS (there is no plaintext TCP): missing "
            "--tlscert (BERTH_TLS_CERT)");
  e = MakeEndpoint("unix:///b.sock", TlsFiles{"", "/cert.pem", ""}, "--host");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "--host: unix:///b.sock is a local socket and TLS files are only for tcp:// "
            "addresses: drop --tlscert (BERTH_TLS_CERT)");
  e = MakeEndpoint("http://x:1", all, "--host");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), ::testing::StartsWith("--host: invalid agent address"));
}

}  // namespace
}  // namespace berth::cli
