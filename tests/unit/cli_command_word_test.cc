#include "cli/command_word.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

TEST(CommandWordTest, FirstWordAfterGlobalOptions) {
  EXPECT_EQ(CommandWord({"run", "-d", "busybox"}), "run");
  EXPECT_EQ(CommandWord({"-H", "unix:///s.sock", "exec", "x", "true"}), "exec");
  EXPECT_EQ(CommandWord({"--host", "tcp://h:1", "--tlscacert", "ca", "--tlscert", "c", "--tlskey", "k", "ps"}), "ps");
  EXPECT_EQ(CommandWord({"--host=unix:///s.sock", "run"}), "run");
  EXPECT_EQ(CommandWord({"-Hunix:///s.sock", "create", "busybox"}), "create");
  EXPECT_EQ(CommandWord({"--cluster", "inv.json", "--node", "n1", "exec"}), "exec");
}

TEST(CommandWordTest, NoneWhenHelpVersionOrUnknownOptionComesFirst) {
  EXPECT_EQ(CommandWord({}), "");
  EXPECT_EQ(CommandWord({"--help", "run"}), "");
  EXPECT_EQ(CommandWord({"-h"}), "");
  EXPECT_EQ(CommandWord({"--version"}), "");
  EXPECT_EQ(CommandWord({"--frob", "run"}), "");
  EXPECT_EQ(CommandWord({"-H"}), "");  // a value missing: CLI11 says so
}

TEST(CommandWordTest, AWordThatLooksLikeAnOptionValueIsNotTakenForTheCommand) {
  // "run" here is -H's value, not the command.
  EXPECT_EQ(CommandWord({"-H", "run", "exec"}), "exec");
  EXPECT_EQ(CommandWord({"--node", "exec", "ps"}), "ps");
}

}  // namespace
}  // namespace berth::cli
