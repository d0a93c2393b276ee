// runtime/container/path_in_root: mount targets made inside a root, where the image's
// symlinks may point anywhere but what is opened or made stays inside the root.
#include "runtime/container/path_in_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "runtime/base/file_util.h"

namespace berth::container_internal {
namespace {

class PathInRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-pathinroot-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    root_ = top_ + "/root";
    outside_ = top_ + "/outside";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/etc").c_str(), 0755), 0);
    root_fd_ = UniqueFd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_);
  }
  void TearDown() override { EXPECT_TRUE(RemoveTree(top_).ok()); }

  // The inode `fd` names, to compare with a path's.
  static ino_t InodeOf(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
  }
  static ino_t InodeAt(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }

  std::string top_, root_, outside_;
  UniqueFd root_fd_;
};

TEST_F(PathInRoot, OpensWhatIsThereAndMakesWhatIsMissing) {
  absl::StatusOr<UniqueFd> etc = MakePathInRoot(root_fd_.get(), "/etc", LeafKind::kDirectory);
  ASSERT_TRUE(etc.ok()) << etc.status();
  EXPECT_EQ(InodeOf(etc->get()), InodeAt(root_ + "/etc"));

  // One missing component (a file for a bind), then several (directories), then "/".
  absl::StatusOr<UniqueFd> hosts = MakePathInRoot(root_fd_.get(), "/etc/hosts", LeafKind::kFile);
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  struct stat st;
  ASSERT_EQ(::lstat((root_ + "/etc/hosts").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_mode & 0133, 0u) << std::oct << st.st_mode;  // 0644 less the umask
  EXPECT_EQ(InodeOf(hosts->get()), st.st_ino);

  absl::StatusOr<UniqueFd> deep = MakePathInRoot(root_fd_.get(), "a/b//c/", LeafKind::kDirectory);
  ASSERT_TRUE(deep.ok()) << deep.status();
  ASSERT_EQ(::lstat((root_ + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(InodeOf(deep->get()), st.st_ino);

  absl::StatusOr<UniqueFd> top = MakePathInRoot(root_fd_.get(), "/", LeafKind::kDirectory);
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(InodeOf(top->get()), InodeAt(root_));

  // Made again: the same objects, nothing replaced.
  absl::StatusOr<UniqueFd> again = MakePathInRoot(root_fd_.get(), "/etc/hosts", LeafKind::kFile);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(InodeOf(again->get()), InodeAt(root_ + "/etc/hosts"));
}

// An image's symlinks, absolute or climbing with "..", are followed as if the root were "/".
TEST_F(PathInRoot, SymlinksResolveInsideTheRoot) {
  ASSERT_EQ(::symlink(outside_.c_str(), (root_ + "/escape").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../outside/x", (root_ + "/etc/climb").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/dangling").c_str(), (root_ + "/etc/dangling").c_str()), 0);

  absl::StatusOr<UniqueFd> through = MakePathInRoot(root_fd_.get(), "/escape/leaf", LeafKind::kFile);
  ASSERT_TRUE(through.ok()) << through.status();
  EXPECT_EQ(InodeOf(through->get()), InodeAt(root_ + outside_ + "/leaf"));

  absl::StatusOr<UniqueFd> climbed = MakePathInRoot(root_fd_.get(), "/etc/climb", LeafKind::kDirectory);
  ASSERT_TRUE(climbed.ok()) << climbed.status();
  EXPECT_EQ(InodeOf(climbed->get()), InodeAt(root_ + "/outside/x"));

  // The last component a dangling symlink: what it points to is made, inside the root.
  absl::StatusOr<UniqueFd> dangling = MakePathInRoot(root_fd_.get(), "/etc/dangling", LeafKind::kFile);
  ASSERT_TRUE(dangling.ok()) << dangling.status();
  EXPECT_EQ(InodeOf(dangling->get()), InodeAt(root_ + outside_ + "/dangling"));

  // Nothing appeared outside.
  EXPECT_NE(::access((outside_ + "/leaf").c_str(), F_OK), 0);
  EXPECT_NE(::access((outside_ + "/dangling").c_str(), F_OK), 0);
  EXPECT_NE(::access((top_ + "/outside/x").c_str(), F_OK), 0);
}

TEST_F(PathInRoot, AFileInTheWayIsAnError) {
  ASSERT_TRUE(MakePathInRoot(root_fd_.get(), "/etc/passwd", LeafKind::kFile).ok());
  absl::StatusOr<UniqueFd> under = MakePathInRoot(root_fd_.get(), "/etc/passwd/x", LeafKind::kDirectory);
  EXPECT_FALSE(under.ok());
  EXPECT_NE(std::string(under.status().message()).find("/etc/passwd"), std::string::npos)
      << under.status();
}

}  // namespace
}  // namespace berth::container_internal
