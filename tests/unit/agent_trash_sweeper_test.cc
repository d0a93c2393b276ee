// TrashSweeper deletes whole trees after Discard returns; its destructor deletes what is
// still queued (the agent's shutdown).
#include "agent/trash_sweeper.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

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

  // Polls every 5 ms for up to 10 s: the sweeper works on a thread of its own.
  static bool WaitUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 2000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }

  std::string dir_;
};

TEST_F(TrashSweeperTest, DiscardedTreesGoWhileTheSweeperRuns) {
  TrashSweeper sweeper;
  std::vector<std::string> trees;
  for (int i = 0; i < 5; ++i) trees.push_back(MakeTree(std::to_string(i)));
  const std::string kept = MakeTree("kept");
  for (const std::string& t : trees) sweeper.Discard(t);
  for (const std::string& t : trees) {
    EXPECT_TRUE(WaitUntil([&] { return !Exists(t); })) << t;
  }
  EXPECT_TRUE(Exists(kept)) << "only what was discarded goes";
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
  EXPECT_TRUE(WaitUntil([&] { return !Exists(tree); }));
}

}  // namespace
}  // namespace berth::agent
