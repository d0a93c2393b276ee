// runtime/base/file_util: the placement hint for the agent's containers dir.
#include "runtime/base/file_util.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

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

}  // namespace
}  // namespace berth
