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

}  // namespace
}  // namespace berth::agent
