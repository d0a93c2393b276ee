#include "agent/userns_pool.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kR = UsernsPool::kRangeSize;

class UsernsPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-userns-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/userns";
  }
  void TearDown() override { (void)RemoveTree(root_); }

  UsernsPool Open(uint32_t start, uint32_t size) {
    auto pool = UsernsPool::Open(dir_, start, size);
    EXPECT_TRUE(pool.ok()) << pool.status();
    return std::move(*pool);
  }
  static std::string Id(int n) { return std::string(60, 'c') + std::to_string(1000 + n); }
  std::string FileOf(uint32_t first) const { return dir_ + "/" + std::to_string(first); }

  std::string root_;
  std::string dir_;
};

TEST_F(UsernsPoolTest, ParsesAndValidatesTheSetting) {
  auto r = ParseUsernsPoolRange("100000:6553600");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->start, 100000u);
  EXPECT_EQ(r->size, 6553600u);
  for (const char* bad : {"", "100000", "100000:", ":65536", "x:65536", "100000:65536:1", " 100000:65536",
                          "+100000:65536", "100000:65535", "100000:0", "0:65536", "4294901760:65536",
                          "99999999999:65536"}) {
    auto b = ParseUsernsPoolRange(bad);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << bad << "\"";
    EXPECT_THAT(b.status().message(), HasSubstr("userns_pool")) << bad;
  }
  EXPECT_TRUE(ValidateUsernsPoolRange(65536, 65536).ok());
  EXPECT_TRUE(ValidateUsernsPoolRange(4294901759u, 65536).ok());  // last id 4294967294
  EXPECT_FALSE(ValidateUsernsPoolRange(4294901760u, 65536).ok());  // would include (uid_t)-1
  EXPECT_FALSE(UsernsPool::Open(dir_, 100000, 1000).ok());
}

TEST_F(UsernsPoolTest, ManyContainersGetDisjointRanges) {
  UsernsPool pool = Open(100000, 100 * kR);
  std::set<uint32_t> firsts;
  for (int i = 0; i < 100; ++i) {
    auto first = pool.Allocate(Id(i));
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(*first, 100000u + static_cast<uint32_t>(i) * kR);  // lowest free first
    EXPECT_EQ((*first - 100000u) % kR, 0u);
    EXPECT_TRUE(firsts.insert(*first).second);
    EXPECT_EQ(pool.RangeOf(Id(i)), *first);
    // Durable before it was returned: the file names the container.
    auto text = ReadFile(FileOf(*first));
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, Id(i) + "\n");
  }
  EXPECT_EQ(*firsts.rbegin() + kR, 100000u + 100 * kR);  // the last range ends at the pool's end
}

TEST_F(UsernsPoolTest, ConcurrentAllocationsNeverShareARange) {
  UsernsPool pool = Open(200000, 64 * kR);
  std::vector<uint32_t> got(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 64; i += 8) {
        auto first = pool.Allocate(Id(i));
        got[static_cast<size_t>(i)] = first.ok() ? *first : 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint32_t> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), 64u);
  EXPECT_FALSE(distinct.contains(0));
}

TEST_F(UsernsPoolTest, SameContainerTwiceKeepsItsRange) {
  UsernsPool pool = Open(100000, 4 * kR);
  auto a = pool.Allocate(Id(1));
  auto b = pool.Allocate(Id(2));
  auto again = pool.Allocate(Id(1));
  ASSERT_TRUE(a.ok() && b.ok() && again.ok());
  EXPECT_EQ(*again, *a);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(pool.Allocate("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool.Allocate("a\nb").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(UsernsPoolTest, ReleasedRangesAreReusedLowestFirst) {
  UsernsPool pool = Open(100000, 3 * kR);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.Allocate(Id(i)).ok());
  ASSERT_TRUE(pool.Release(Id(1)).ok());
  EXPECT_FALSE(pool.RangeOf(Id(1)).has_value());
  EXPECT_NE(::access(FileOf(100000 + kR).c_str(), F_OK), 0);
  EXPECT_TRUE(pool.Release(Id(1)).ok());       // twice: fine
  EXPECT_TRUE(pool.Release("never-had-one").ok());
  auto next = pool.Allocate(Id(7));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 100000u + kR);
  ASSERT_TRUE(pool.Release(Id(0)).ok());
  ASSERT_TRUE(pool.Release(Id(2)).ok());
  EXPECT_EQ(*pool.Allocate(Id(8)), 100000u);
}

TEST_F(UsernsPoolTest, FullPoolSaysSo) {
  UsernsPool pool = Open(100000, 2 * kR);
  ASSERT_TRUE(pool.Allocate(Id(0)).ok());
  ASSERT_TRUE(pool.Allocate(Id(1)).ok());
  auto full = pool.Allocate(Id(2));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("userns pool 100000:131072"));
  EXPECT_THAT(full.status().message(), HasSubstr(dir_));
  EXPECT_THAT(full.status().message(), HasSubstr("is full"));
  EXPECT_FALSE(pool.RangeOf(Id(2)).has_value());
  EXPECT_TRUE(pool.Allocate(Id(1)).ok());  // a holder still gets its own
}

TEST_F(UsernsPoolTest, AllocationsSurviveAReopen) {
  uint32_t a, b;
  {
    UsernsPool pool = Open(100000, 10 * kR);
    a = *pool.Allocate(Id(0));
    b = *pool.Allocate(Id(1));
    ASSERT_TRUE(pool.Allocate(Id(2)).ok());
    ASSERT_TRUE(pool.Release(Id(2)).ok());
  }  // the agent "crashes"
  UsernsPool pool = Open(100000, 10 * kR);
  EXPECT_EQ(pool.RangeOf(Id(0)), a);
  EXPECT_EQ(pool.RangeOf(Id(1)), b);
  EXPECT_FALSE(pool.RangeOf(Id(2)).has_value());
  auto c = pool.Allocate(Id(3));
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*c, a);
  EXPECT_NE(*c, b);
  EXPECT_EQ(*c, 100000u + 2 * kR);
}

TEST_F(UsernsPoolTest, ReconcileFreesRangesOfUnknownContainers) {
  {
    UsernsPool pool = Open(100000, 10 * kR);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.Allocate(Id(i)).ok());
  }
  UsernsPool pool = Open(100000, 10 * kR);
  pool.Reconcile({Id(1), Id(3), "some-container-without-a-range"});
  EXPECT_FALSE(pool.RangeOf(Id(0)).has_value());
  EXPECT_EQ(pool.RangeOf(Id(1)), 100000u + kR);
  EXPECT_FALSE(pool.RangeOf(Id(2)).has_value());
  EXPECT_EQ(pool.RangeOf(Id(3)), 100000u + 3 * kR);
  EXPECT_NE(::access(FileOf(100000).c_str(), F_OK), 0);
  EXPECT_NE(::access(FileOf(100000 + 2 * kR).c_str(), F_OK), 0);
  EXPECT_EQ(*pool.Allocate(Id(9)), 100000u);
  // And it stays freed across another restart.
  UsernsPool reopened = Open(100000, 10 * kR);
  EXPECT_EQ(reopened.RangeOf(Id(9)), 100000u);
  EXPECT_FALSE(reopened.RangeOf(Id(0)).has_value());
}

TEST_F(UsernsPoolTest, StrayAndCorruptFilesAreSafe) {
  ASSERT_TRUE(MakeDirs(dir_, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/README", "not a range").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/0100000", "leading zero: not ours").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/100000.tmp.123", "interrupted write").ok());
  ASSERT_TRUE(WriteFileAtomic(FileOf(100000 + kR), "").ok());        // empty: owner unknown
  ASSERT_TRUE(MakeDirs(FileOf(100000 + 2 * kR)).ok());                // a directory: unreadable
  ASSERT_TRUE(WriteFileAtomic(FileOf(100000 + 3 * kR), std::string(5000, 'x')).ok());  // not an id
  UsernsPool pool = Open(100000, 5 * kR);
  std::vector<uint32_t> got;
  for (int i = 0; i < 2; ++i) {
    auto first = pool.Allocate(Id(i));
    ASSERT_TRUE(first.ok()) << first.status();
    got.push_back(*first);
  }
  // Only the ranges nobody's file claims.
  EXPECT_EQ(got, (std::vector<uint32_t>{100000u, 100000u + 4 * kR}));
  EXPECT_EQ(pool.Allocate(Id(2)).status().code(), absl::StatusCode::kResourceExhausted);
  // Reconcile cannot know whether an unknown owner's container runs: it keeps those ranges.
  pool.Reconcile({Id(0), Id(1)});
  EXPECT_EQ(::access(FileOf(100000 + kR).c_str(), F_OK), 0);
  EXPECT_EQ(::access(FileOf(100000 + 3 * kR).c_str(), F_OK), 0);
  EXPECT_EQ(pool.Allocate(Id(2)).status().code(), absl::StatusCode::kResourceExhausted);
  // Stray files were left alone.
  EXPECT_EQ(::access((dir_ + "/README").c_str(), F_OK), 0);
  EXPECT_EQ(::access((dir_ + "/0100000").c_str(), F_OK), 0);
  EXPECT_EQ(::access((dir_ + "/100000.tmp.123").c_str(), F_OK), 0);
}

TEST_F(UsernsPoolTest, ChangedPoolKeepsWhatStillFitsAndNeverOverlapsTheRest) {
  {
    UsernsPool pool = Open(100000, 4 * kR);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.Allocate(Id(i)).ok());  // 100000 + 0..3 ranges
  }
  {
    // Moved up by two ranges and grown: ranges 2 and 3 are still ranges of the new pool.
    UsernsPool pool = Open(100000 + 2 * kR, 4 * kR);
    EXPECT_FALSE(pool.RangeOf(Id(0)).has_value());
    EXPECT_FALSE(pool.RangeOf(Id(1)).has_value());
    EXPECT_EQ(pool.RangeOf(Id(2)), 100000u + 2 * kR);
    EXPECT_EQ(pool.RangeOf(Id(3)), 100000u + 3 * kR);
    EXPECT_EQ(*pool.Allocate(Id(4)), 100000u + 4 * kR);
    pool.Reconcile({Id(3)});  // frees Id(2); Id(0) and Id(1)'s files are not this pool's
    EXPECT_EQ(::access(FileOf(100000).c_str(), F_OK), 0);
    EXPECT_EQ(::access(FileOf(100000 + kR).c_str(), F_OK), 0);
    EXPECT_NE(::access(FileOf(100000 + 2 * kR).c_str(), F_OK), 0);
    ASSERT_TRUE(pool.Release(Id(4)).ok());
  }
  {
    // Shifted by one id: every old range file overlaps two ranges of the new grid, which
    // stay out of use while the file exists. Old files: 100000 (Id 0), 165536 (Id 1),
    // 296608 (Id 3); new grid 100001 + k*65536.
    UsernsPool pool = Open(100001, 6 * kR);
    std::vector<std::pair<uint64_t, uint64_t>> used = {{100000, 100000 + 2 * kR}, {100000 + 3 * kR, 100000 + 4 * kR}};
    std::vector<uint32_t> got;
    for (int i = 10; i < 20; ++i) {
      auto first = pool.Allocate(Id(i));
      if (!first.ok()) {
        EXPECT_EQ(first.status().code(), absl::StatusCode::kResourceExhausted);
        EXPECT_THAT(first.status().message(), HasSubstr("earlier pool configuration"));
        break;
      }
      got.push_back(*first);
      for (auto [lo, hi] : used) {
        EXPECT_TRUE(*first + uint64_t{kR} <= lo || *first >= hi) << *first << " overlaps [" << lo << "," << hi << ")";
      }
    }
    // New ranges 100001 + k*65536, k=0..5: k=0 and 1 overlap the old files 100000 and
    // 165536, k=2 and 3 the old file 296608 (it ends one id into k=3's range... and starts one
    // id before it): only k=4 and 5 are free.
    EXPECT_EQ(got, (std::vector<uint32_t>{100001u + 4 * kR, 100001u + 5 * kR}));
  }
}

}  // namespace
}  // namespace berth::agent
