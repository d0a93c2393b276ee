#include "runtime/container/bind_parking.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "runtime/base/file_util.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

namespace berth::container_internal {

bool MaybeShared(unsigned mount_id, absl::string_view mountinfo) {
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    unsigned id = 0;
    if (!absl::SimpleAtoi(line.substr(0, line.find(' ')), &id) || id != mount_id) continue;
    // The optional fields ("shared:N", "master:N", ...) end at " - ".
    absl::string_view fields = line.substr(0, line.find(" - "));
    return fields.find(" shared:") != absl::string_view::npos;
  }
  return true;
}

std::vector<UniqueFd> OpenParkingSpots(const spec::Spec& spec, const PreparedMounts& mounts,
                                       bool none, bool old_root_unshared) {
  std::vector<UniqueFd> spots(mounts.binds.size());
  if (none) return spots;
  std::optional<std::string> mountinfo;  // read once, for the first spot that needs it
  for (size_t i = 0; i < mounts.binds.size() && i < spec.mounts.size(); ++i) {
    if (!mounts.binds[i]) continue;
    struct stat bind_st;
    if (::fstat(mounts.binds[i].get(), &bind_st) != 0 || S_ISDIR(bind_st.st_mode)) continue;
    UniqueFd spot(::open(spec.mounts[i].source.c_str(), O_PATH | O_CLOEXEC));
    struct statx sx;
    if (!spot || ::statx(spot.get(), "", AT_EMPTY_PATH, STATX_TYPE | STATX_MNT_ID, &sx) != 0 ||
        S_ISDIR(sx.stx_mode)) {
      continue;
    }
    if (!old_root_unshared) {
      if ((sx.stx_mask & STATX_MNT_ID) == 0) continue;
      if (!mountinfo) mountinfo = ReadFile("/proc/self/mountinfo").value_or("");
      if (MaybeShared(static_cast<unsigned>(sx.stx_mnt_id), *mountinfo)) continue;
    }
    spots[i] = std::move(spot);
  }
  return spots;
}

}  // namespace berth::container_internal
