// Detach keys: docker's --detach-keys syntax, and the matcher that holds back a partial match
// and forwards a broken one whole.
#include "cli/detach_keys.h"

#include "gtest/gtest.h"

namespace berth::cli {
namespace {

TEST(ParseDetachKeys, DockersSyntax) {
  EXPECT_EQ(*ParseDetachKeys("ctrl-p,ctrl-q"), "\x10\x11");
  EXPECT_EQ(*ParseDetachKeys("ctrl-a,d"), "\x01" "d");
  EXPECT_EQ(*ParseDetachKeys("CTRL-Z"), "\x1a");
  EXPECT_EQ(*ParseDetachKeys("ctrl-@,ctrl-[,ctrl-_"), std::string("\0\x1b\x1f", 3));
  for (const char* bad : {"", "ctrl-", "ctrl-1", "alt-x", "ab", "ctrl-p,,ctrl-q"}) {
    auto r = ParseDetachKeys(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(DetachKeys, WholeSequenceDetachesAndHoldsNothingBack) {
  DetachKeys keys("\x10\x11");
  auto r = keys.Feed("ls\n\x10\x11" "after");
  EXPECT_TRUE(r.detached);
  EXPECT_EQ(r.forward, "ls\n");
}

TEST(DetachKeys, SequenceSplitAcrossReads) {
  DetachKeys keys("\x10\x11");
  auto first = keys.Feed("a\x10");
  EXPECT_FALSE(first.detached);
  EXPECT_EQ(first.forward, "a");  // the ctrl-p is held back
  auto second = keys.Feed("\x11");
  EXPECT_TRUE(second.detached);
  EXPECT_EQ(second.forward, "");
}

TEST(DetachKeys, ABrokenMatchIsForwardedWhole) {
  DetachKeys keys("\x10\x11");
  auto r = keys.Feed("\x10x");
  EXPECT_FALSE(r.detached);
  EXPECT_EQ(r.forward, "\x10x");
  // ctrl-p ctrl-p ctrl-q: the first ctrl-p is input, the rest detaches.
  DetachKeys again("\x10\x11");
  auto twice = again.Feed("\x10\x10\x11");
  EXPECT_TRUE(twice.detached);
  EXPECT_EQ(twice.forward, "\x10");
}

TEST(DetachKeys, OneKeySequence) {
  DetachKeys keys("\x1d");
  auto r = keys.Feed("ab\x1d" "c");
  EXPECT_TRUE(r.detached);
  EXPECT_EQ(r.forward, "ab");
}

}  // namespace
}  // namespace berth::cli
