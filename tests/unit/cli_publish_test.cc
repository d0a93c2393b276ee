// berth CLI: -p/--publish parsing, --add-host/--dns checks, and how published ports read in
// `berth port`, the ps PORTS column and the network ls table.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/network_flags.h"
#include "cli/network_table.h"
#include "cli/ps_table.h"
#include "cli/human_format.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;
using ::testing::HasSubstr;

v1::PortMapping Mapping(const std::string& protocol, const std::string& ip, uint32_t host,
                        uint32_t container) {
  v1::PortMapping m;
  m.set_protocol(protocol);
  m.set_host_ip(ip);
  m.set_host_port(host);
  m.set_container_port(container);
  return m;
}

TEST(ParsePublish, HostPortAndContainerPort) {
  absl::StatusOr<v1::PortMapping> m = ParsePublish("8080:80");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->protocol(), "tcp");
  EXPECT_EQ(m->host_ip(), "");
  EXPECT_EQ(m->host_port(), 8080u);
  EXPECT_EQ(m->container_port(), 80u);
}

TEST(ParsePublish, HostIpAndProtocol) {
  absl::StatusOr<v1::PortMapping> m = ParsePublish("127.0.0.1:5353:53/udp");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->protocol(), "udp");
  EXPECT_EQ(m->host_ip(), "127.0.0.1");
  EXPECT_EQ(m->host_port(), 5353u);
  EXPECT_EQ(m->container_port(), 53u);

  m = ParsePublish("0.0.0.0:1:65535/TCP");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->protocol(), "tcp");
  EXPECT_EQ(m->host_ip(), "0.0.0.0");
  EXPECT_EQ(m->host_port(), 1u);
  EXPECT_EQ(m->container_port(), 65535u);
  EXPECT_TRUE(ParsePublish("80:80/tcp").ok());
}

TEST(ParsePublish, RejectsBadSyntax) {
  for (const char* bad :
       {"", "80", "80/tcp", ":80", "80:", "a:80", "80:b", "1.2.3.4::80", ":8080:80", "x:80:80",
        "1.2.3:80:80", "256.1.1.1:80:80", "::1:80:80", "1:2:3:4", "80:80/", "80:80/sctp",
        "80:80/tcp/udp", "+80:80", "-1:80", "80 :80", "8080:80 "}) {
    EXPECT_FALSE(ParsePublish(bad).ok()) << "'" << bad << "'";
  }
}

TEST(ParsePublish, RejectsPortsOutOfRange) {
  for (const char* bad : {"0:80", "80:0", "65536:80", "80:65536", "99999999999:80", "00:80"}) {
    absl::StatusOr<v1::PortMapping> m = ParsePublish(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_THAT(std::string(m.status().message()), HasSubstr("out of range (1-65535)")) << bad;
  }
  EXPECT_TRUE(ParsePublish("065535:080").ok());  // leading zeros are only digits
}

TEST(ParsePublish, MessagesNameTheFlagAndTheForm) {
  absl::StatusOr<v1::PortMapping> m = ParsePublish("80");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("invalid --publish '80'"));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("HOSTPORT:CONTAINERPORT"));
  m = ParsePublish("80:80/sctp");
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("unknown protocol 'sctp'"));
}

TEST(ParsePublishes, RefusesTheSameHostPortTwice) {
  EXPECT_TRUE(ParsePublishes({"8080:80", "8081:80", "8080:80/udp", "127.0.0.1:9000:1",
                              "127.0.0.2:9000:2"})
                  .ok());
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"8080:80", "8080:81"},
                                             {"8080:80", "127.0.0.1:8080:81"},
                                             {"127.0.0.1:8080:80", "0.0.0.0:8080:81"},
                                             {"1.2.3.4:53:53/udp", "1.2.3.4:53:54/udp"}}) {
    absl::StatusOr<std::vector<v1::PortMapping>> ports = ParsePublishes(bad);
    ASSERT_FALSE(ports.ok()) << bad[0] << " " << bad[1];
    EXPECT_THAT(std::string(ports.status().message()), HasSubstr("already published"));
  }
  EXPECT_EQ(ParsePublishes({})->size(), 0u);
}

TEST(ExtraHostsAndDns, Validation) {
  EXPECT_TRUE(ValidateExtraHost("db:10.0.0.5").ok());
  EXPECT_TRUE(ValidateExtraHost("db.local:fd00::1").ok());
  for (const char* bad : {"", "db", ":1.2.3.4", "db:", "db:host", "d b:1.2.3.4", "db=1.2.3.4"}) {
    EXPECT_FALSE(ValidateExtraHost(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateDnsServer("8.8.8.8").ok());
  EXPECT_TRUE(ValidateDnsServer("::1").ok());
  EXPECT_FALSE(ValidateDnsServer("dns.google").ok());
  EXPECT_FALSE(ValidateDnsServer("").ok());
  EXPECT_TRUE(ValidateDnsSearch("example.com").ok());
  EXPECT_FALSE(ValidateDnsSearch("").ok());
  EXPECT_FALSE(ValidateDnsSearch("a b").ok());
}

TEST(NetworkModeFromFlag, PassesNamesThrough) {
  EXPECT_EQ(*NetworkModeFromFlag(""), "");
  EXPECT_EQ(*NetworkModeFromFlag("default"), "");
  for (const char* mode : {"bridge", "none", "host", "container:web", "my-net"}) {
    EXPECT_EQ(*NetworkModeFromFlag(mode), mode);
  }
  EXPECT_FALSE(NetworkModeFromFlag("container:").ok());
  EXPECT_FALSE(NetworkModeFromFlag("my net").ok());
}

TEST(PortFormatting, PortCommandLines) {
  EXPECT_EQ(PortMappingLine(Mapping("tcp", "", 8080, 80)), "80/tcp -> 0.0.0.0:8080");
  EXPECT_EQ(PortMappingLine(Mapping("", "", 8080, 80)), "80/tcp -> 0.0.0.0:8080");
  EXPECT_EQ(PortMappingLine(Mapping("udp", "127.0.0.1", 5353, 53)),
            "53/udp -> 127.0.0.1:5353");
}

TEST(PortFormatting, PsColumn) {
  v1::Container c;
  EXPECT_EQ(PortsText(c), "");
  *c.mutable_network_settings()->add_ports() = Mapping("tcp", "", 8080, 80);
  EXPECT_EQ(PortsText(c), "0.0.0.0:8080->80/tcp");
  *c.mutable_network_settings()->add_ports() = Mapping("udp", "127.0.0.1", 5353, 53);
  EXPECT_EQ(PortsText(c), "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp");
  // What was asked for but not set up does not show.
  v1::Container created;
  *created.mutable_config()->add_ports() = Mapping("tcp", "", 1, 1);
  EXPECT_EQ(PortsText(created), "");
}

TEST(PortFilter, ParseAndSelect) {
  v1::Container c;
  *c.mutable_network_settings()->add_ports() = Mapping("tcp", "", 8080, 80);
  *c.mutable_network_settings()->add_ports() = Mapping("udp", "", 8080, 80);
  *c.mutable_network_settings()->add_ports() = Mapping("", "", 9090, 90);
  EXPECT_EQ(SelectPorts(c, nullptr).size(), 3u);
  absl::StatusOr<PortFilter> f = ParsePortFilter("80");
  ASSERT_TRUE(f.ok());
  std::vector<v1::PortMapping> selected = SelectPorts(c, &*f);
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].protocol(), "tcp");
  f = ParsePortFilter("80/UDP");
  ASSERT_TRUE(f.ok());
  selected = SelectPorts(c, &*f);
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].protocol(), "udp");
  f = ParsePortFilter("90/tcp");  // an empty protocol is tcp
  EXPECT_EQ(SelectPorts(c, &*f).size(), 1u);
  f = ParsePortFilter("91");
  EXPECT_TRUE(SelectPorts(c, &*f).empty());
  for (const char* bad : {"", "x", "0", "65536", "80/sctp", "/tcp", "123456"}) {
    EXPECT_FALSE(ParsePortFilter(bad).ok()) << bad;
  }
}

TEST(PsTable, PortsColumnAndNodeColumn) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  v1::Container c;
  c.set_id(std::string(64, 'a'));
  c.set_name("web");
  c.set_image("busybox");
  c.add_command("nc");
  c.set_state(v1::RUNNING);
  *c.mutable_created_at() = TimeToProto(now - absl::Seconds(5));
  *c.mutable_started_at() = TimeToProto(now - absl::Seconds(5));
  *c.mutable_network_settings()->add_ports() = Mapping("tcp", "", 8080, 7000);

  std::vector<std::vector<std::string>> rows = PsTableRows({{"", &c}}, false, false, now);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
                                               "STATUS", "PORTS", "NAMES"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"aaaaaaaaaaaa", "busybox", "\"nc\"",
                                               "5 seconds ago", "Up 5 seconds",
                                               "0.0.0.0:8080->7000/tcp", "web"}));
  rows = PsTableRows({{"node-2", &c}}, true, false, now);
  EXPECT_EQ(rows[0].front(), "NODE");
  EXPECT_EQ(rows[0].size(), 8u);
  EXPECT_EQ(rows[1].front(), "node-2");
  EXPECT_EQ(rows[1][1], "aaaaaaaaaaaa");
  rows = PsTableRows({{"", &c}}, false, /*no_trunc=*/true, now);
  EXPECT_EQ(rows[1][0], std::string(64, 'a'));
  c.set_state(v1::PAUSED);
  EXPECT_EQ(PsTableRows({{"", &c}}, false, false, now)[1][5], "0.0.0.0:8080->7000/tcp");
  c.set_state(v1::EXITED);  // its ports are no longer published
  EXPECT_EQ(PsTableRows({{"", &c}}, false, false, now)[1][5], "");
}

TEST(NetworkTable, ColumnsAndOrder) {
  v1::Network a;
  a.set_id(std::string(64, 'b'));
  a.set_name("zeta");
  a.set_driver("bridge");
  a.set_subnet("10.89.1.0/24");
  a.set_gateway("10.89.1.1");
  a.set_bridge("berth-zeta");
  v1::Network b;
  b.set_id("0123456789abcdef" + std::string(48, '0'));
  b.set_name("bridge");
  b.set_driver("bridge");
  b.set_subnet("10.88.0.0/24");
  b.set_gateway("10.88.0.1");
  b.set_bridge("berth0");
  std::vector<std::vector<std::string>> rows = NetworkTableRows({&a, &b}, false);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"NETWORK ID", "NAME", "DRIVER", "SUBNET",
                                               "GATEWAY", "BRIDGE"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"0123456789ab", "bridge", "bridge",
                                               "10.88.0.0/24", "10.88.0.1", "berth0"}));
  EXPECT_EQ(rows[2][1], "zeta");
  EXPECT_EQ(NetworkTableRows({&a}, true)[1][0], std::string(64, 'b'));
}

}  // namespace
}  // namespace berth::cli
