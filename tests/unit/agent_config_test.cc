#include <cstdio>
#include <fstream>

#include "agent/config.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/berthd-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::write(fd, text.data(), text.size());
  ::close(fd);
  return path;
}

TEST(AgentConfigTest, FileOverridesDefaults) {
  std::string path = WriteTemp("root = \"/srv/berth\"\nlog_level = \"debug\"\ncgroup_parent = \"mine\"\n");
  auto c = LoadConfigFile(path, AgentConfig{});
  std::remove(path.c_str());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->root, "/srv/berth");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->cgroup_parent, "mine");
  EXPECT_EQ(c->socket, "/run/berth/berth.sock");
  EXPECT_TRUE(ValidateConfig(*c).ok());
}

TEST(AgentConfigTest, BadTomlAndTypesAreInvalidArgument) {
  std::string bad = WriteTemp("root = [1,2\n");
  EXPECT_EQ(LoadConfigFile(bad, AgentConfig{}).status().code(), absl::StatusCode::kInvalidArgument);
  std::remove(bad.c_str());
  std::string typed = WriteTemp("root = 5\n");
  auto c = LoadConfigFile(typed, AgentConfig{});
  std::remove(typed.c_str());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("root"), absl::string_view::npos);
}

TEST(AgentConfigTest, ValidationNamesTheKey) {
  AgentConfig c;
  c.root = "relative";
  EXPECT_NE(ValidateConfig(c).message().find("root"), absl::string_view::npos);
  c = AgentConfig{};
  c.cgroup_parent = "../escape";
  EXPECT_NE(ValidateConfig(c).message().find("cgroup_parent"), absl::string_view::npos);
  c = AgentConfig{};
  c.log_format = "xml";
  EXPECT_FALSE(ValidateConfig(c).ok());
  c = AgentConfig{};
  c.log_level = "loud";
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST(AgentConfigTest, CriStreamingAndCniKeys) {
  std::string path = WriteTemp(
      "cri_stream_address = \"127.0.0.1:10010\"\ncni_conf_dir = \"/etc/cni/net.d\"\ncni_bin_dir = \"/opt/a:/opt/b\"\n");
  auto c = LoadConfigFile(path, AgentConfig{});
  std::remove(path.c_str());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cri_stream_address, "127.0.0.1:10010");
  EXPECT_EQ(c->cni_conf_dir, "/etc/cni/net.d");
  EXPECT_EQ(c->cni_bin_dir, "/opt/a:/opt/b");
  EXPECT_TRUE(ValidateConfig(*c).ok());
  AgentConfig defaults;
  EXPECT_TRUE(defaults.cri_stream_address.empty());  // 127.0.0.1:0, skipped if loopback is down
  EXPECT_TRUE(defaults.cni_conf_dir.empty());         // the agent's bridge serves pods
  c->cri_stream_address = "localhost";
  absl::Status st = ValidateConfig(*c);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("cri_stream_address \"localhost\": no port"), absl::string_view::npos) << st;
  c->cri_stream_address = "";
  c->cni_conf_dir = "net.d";
  st = ValidateConfig(*c);
  EXPECT_NE(st.message().find("cni_conf_dir must be absolute"), absl::string_view::npos) << st;
}

TEST(AgentConfigTest, NetworkKeys) {
  std::string path = WriteTemp(
      "bridge = \"br-test\"\nbridge_cidr = \"10.77.0.1/24\"\nmtu = 1400\ndns = [\"192.0.2.53\"]\n"
      "dns_search = [\"example.internal\"]\noutbound_nat = false\nip_forward = false\nipv6 = true\n"
      "bridge_ipv6_cidr = \"fd00:77::1/64\"\n");
  auto c = LoadConfigFile(path, AgentConfig{});
  std::remove(path.c_str());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bridge, "br-test");
  EXPECT_EQ(c->bridge_cidr, "10.77.0.1/24");
  EXPECT_EQ(c->mtu, 1400);
  EXPECT_EQ(c->dns, std::vector<std::string>{"192.0.2.53"});
  EXPECT_EQ(c->dns_search, std::vector<std::string>{"example.internal"});
  EXPECT_FALSE(c->outbound_nat);  // on by default, as Docker's
  EXPECT_TRUE(AgentConfig{}.outbound_nat);
  EXPECT_FALSE(c->ip_forward);
  EXPECT_TRUE(c->ipv6);
  EXPECT_EQ(c->bridge_ipv6_cidr, "fd00:77::1/64");
  EXPECT_TRUE(ValidateConfig(*c).ok());
  // A v6 bridge address without ipv6 is a mistake, not something to ignore.
  AgentConfig v4only = *c;
  v4only.ipv6 = false;
  EXPECT_NE(ValidateConfig(v4only).message().find("bridge_ipv6_cidr"), absl::string_view::npos);
}

TEST(AgentConfigTest, NetworkValidationNamesTheKey) {
  for (auto [cidr, why] : {std::pair{"10.88.0.0/16", "network address"}, {"10.88.0.1", "no length"},
                           {"10.88.0.1/31", "too small"}, {"300.1.1.1/16", "bad address"}}) {
    AgentConfig c;
    c.bridge_cidr = cidr;
    EXPECT_NE(ValidateConfig(c).message().find("bridge_cidr"), absl::string_view::npos) << why;
  }
  AgentConfig c;
  c.bridge = "a-very-long-bridge-name";
  EXPECT_NE(ValidateConfig(c).message().find("bridge"), absl::string_view::npos);
  c = AgentConfig{};
  c.dns = {"not-an-ip"};
  EXPECT_NE(ValidateConfig(c).message().find("dns"), absl::string_view::npos);
  c = AgentConfig{};
  c.mtu = 10;
  EXPECT_NE(ValidateConfig(c).message().find("mtu"), absl::string_view::npos);
}

}  // namespace
}  // namespace berth::agent
