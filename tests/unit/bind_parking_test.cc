// runtime/container/bind_parking: whether mountinfo shows a mount as shared.
#include "runtime/container/bind_parking.h"

#include <gtest/gtest.h>

namespace berth::container_internal {
namespace {

constexpr char kMountinfo[] =
    "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "27 26 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw\n"
    "28 26 0:6 / /run rw,nosuid master:3 - tmpfs tmpfs rw\n"
    "29 26 0:7 / /srv\\040shared:9 rw - tmpfs tmpfs rw\n"
    "30 26 0:8 / /mnt rw shared:4 master:5 - tmpfs x shared:7\n";

TEST(BindParking, SharedIsReadFromTheOptionalFields) {
  EXPECT_FALSE(MaybeShared(26, kMountinfo));  // private
  EXPECT_TRUE(MaybeShared(27, kMountinfo));
  EXPECT_FALSE(MaybeShared(28, kMountinfo));  // a slave only receives
  EXPECT_FALSE(MaybeShared(29, kMountinfo));  // "shared:" in the mount point's name (escaped space)
  EXPECT_TRUE(MaybeShared(30, kMountinfo));   // shared and a slave
  EXPECT_TRUE(MaybeShared(2, kMountinfo));    // not listed: assumed shared
  EXPECT_TRUE(MaybeShared(26, ""));
}

}  // namespace
}  // namespace berth::container_internal
