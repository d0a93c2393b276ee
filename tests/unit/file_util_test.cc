// runtime/base/file_util: MakeDirs, the placement hint for the agent's containers dir, and writes.
#include "runtime/base/file_util.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace berth {
namespace {

int InodeFlags(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int flags = -1;
  if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) flags = -1;
  if (fd >= 0) ::close(fd);
  return flags;
}

TEST(MakeDirs, MakesEveryMissingLevelAndAcceptsWhatExists) {
  char tmpl[] = "/tmp/berth-makedirs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string top = tmpl;
  struct stat st;
  ASSERT_TRUE(MakeDirs(top + "/a/b/c", 0700).ok());
  ASSERT_EQ(::stat((top + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(MakeDirs(top + "/a/b/c", 0700).ok());  // all there
  EXPECT_TRUE(MakeDirs(top + "/a/d/", 0755).ok());   // a trailing slash
  EXPECT_EQ(::stat((top + "/a/d").c_str(), &st), 0);
  // A file where a parent should be is an error, not a directory made elsewhere.
  ASSERT_TRUE(WriteFileAtomic(top + "/f", "x").ok());
  absl::Status st_file = MakeDirs(top + "/f/g/h", 0700);
  EXPECT_FALSE(st_file.ok());
  EXPECT_NE(st_file.message().find(top + "/f/g"), std::string::npos) << st_file;
  EXPECT_TRUE(absl::IsInvalidArgument(MakeDirs("")));
  EXPECT_TRUE(RemoveTree(top).ok());
}

TEST(MarkTopOfTrees, SetsExt4sTopDirFlagOnceAndKeepsTheOthers) {
  char tmpl[] = "/var/tmp/berth-topdir-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir.c_str(), &fs), 0);
  if (fs.f_type != EXT4_SUPER_MAGIC) {
    ::rmdir(dir.c_str());
    GTEST_SKIP() << dir << " is not on ext4";
  }
  const int before = InodeFlags(dir);
  ASSERT_GE(before, 0);
  EXPECT_EQ(before & FS_TOPDIR_FL, 0);
  EXPECT_TRUE(MarkTopOfTrees(dir));
  EXPECT_EQ(InodeFlags(dir), before | FS_TOPDIR_FL);
  EXPECT_TRUE(MarkTopOfTrees(dir));  // already marked
  EXPECT_EQ(InodeFlags(dir), before | FS_TOPDIR_FL);
  ::rmdir(dir.c_str());
}

TEST(MarkTopOfTrees, IsFalseForWhatIsNotADirectory) {
  EXPECT_FALSE(MarkTopOfTrees("/nonexistent/berth-topdir"));
  EXPECT_FALSE(MarkTopOfTrees("/proc/self/status"));
}

// One open, one write(2) a piece: a pipe shows each write as the reader gets it; a file that is
// not there is an error naming it, and nothing is made.
TEST(WriteExistingEach, WritesEachPieceThroughOneOpen) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const std::string writer = "/proc/self/fd/" + std::to_string(p[1]);
  ASSERT_TRUE(WriteExistingEach(writer, {"a", "bc", ""}).ok());
  ::close(p[1]);
  char buf[16] = {};
  EXPECT_EQ(::read(p[0], buf, sizeof(buf)), 3);
  EXPECT_EQ(std::string(buf), "abc");
  ::close(p[0]);

  char tmpl[] = "/tmp/berth-writeeach-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string missing = std::string(tmpl) + "/missing";
  absl::Status st = WriteExistingEach(missing, {"x"});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find(missing), std::string::npos) << st;
  EXPECT_NE(::access(missing.c_str(), F_OK), 0);
  ::rmdir(tmpl);
}

TEST(WriteNewFile, CreatesInPlaceAndNeverReplaces) {
  char tmpl[] = "/tmp/berth-writenew-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/config.json";
  const std::string big(300000, 'x');  // more than a pipe-sized write, in one call
  ASSERT_TRUE(WriteNewFile(path, big, 0600).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(big.size()));
  // No temporary file beside it.
  EXPECT_EQ(ListDirectory(dir), std::vector<std::string>{"config.json"});

  absl::Status again = WriteNewFile(path, "other", 0600);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_NE(std::string(again.message()).find(path), std::string::npos) << again;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(big.size()));  // untouched

  // A symlink in its place is not followed.
  const std::string link = dir + "/hosts";
  ASSERT_EQ(::symlink((dir + "/elsewhere").c_str(), link.c_str()), 0);
  EXPECT_FALSE(WriteNewFile(link, "x").ok());
  EXPECT_NE(::access((dir + "/elsewhere").c_str(), F_OK), 0);

  EXPECT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace berth
