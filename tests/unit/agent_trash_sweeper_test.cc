// TrashSweeper deletes whole trees after Discard returns: Drain waits for them, and the
// destructor deletes what is still queued.
#include "agent/trash_sweeper.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

class TrashSweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-trash-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  // A tree shaped like a removed container's: files and nested directories.
  std::string MakeTree(const std::string& name) {
    const std::string root = dir_ + "/.trash-" + name;
    EXPECT_TRUE(MakeDirs(root + "/bundle").ok());
    EXPECT_TRUE(MakeDirs(root + "/upper/etc").ok());
    EXPECT_TRUE(MakeDirs(root + "/work/work").ok());
    EXPECT_TRUE(WriteFileAtomic(root + "/bundle/config.json", "{}").ok());
    EXPECT_TRUE(WriteFileAtomic(root + "/upper/etc/hosts", "127.0.0.1 localhost\n").ok());
    EXPECT_TRUE(WriteFileAtomic(root + "/container.json", "{}").ok());
    return root;
  }

  static bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

  std::string dir_;
};

TEST_F(TrashSweeperTest, DrainReturnsOnceEveryDiscardedTreeIsGone) {
  TrashSweeper sweeper;
  std::vector<std::string> trees;
  for (int i = 0; i < 5; ++i) trees.push_back(MakeTree(std::to_string(i)));
  for (const std::string& t : trees) sweeper.Discard(t);
  sweeper.Drain();
  for (const std::string& t : trees) EXPECT_FALSE(Exists(t)) << t;
  EXPECT_TRUE(Exists(dir_)) << "only what was discarded goes";
}

TEST_F(TrashSweeperTest, TheDestructorDeletesWhatIsStillQueued) {
  std::vector<std::string> trees;
  {
    TrashSweeper sweeper;
    for (int i = 0; i < 20; ++i) trees.push_back(MakeTree(std::to_string(i)));
    for (const std::string& t : trees) sweeper.Discard(t);
  }
  for (const std::string& t : trees) EXPECT_FALSE(Exists(t)) << t;
}

TEST_F(TrashSweeperTest, AMissingTreeIsNoErrorAndTheNextOneStillGoes) {
  TrashSweeper sweeper;
  sweeper.Discard(dir_ + "/never-made");
  const std::string tree = MakeTree("after");
  sweeper.Discard(tree);
  sweeper.Drain();
  EXPECT_FALSE(Exists(tree));
  sweeper.Drain();  // nothing queued: returns at once
}

}  // namespace
}  // namespace berth::agent
