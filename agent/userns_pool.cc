#include "agent/userns_pool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/logging.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

namespace {

constexpr uint64_t kRange = UsernsPool::kRangeSize;
// A range file holds one container id; anything longer is not one of ours.
constexpr size_t kMaxOwnerBytes = 1024;

// Strict decimal: digits only, no sign, no spaces, no leading zero, fits in 32 bits. So a
// file name maps to exactly one number and back ("0100000" and "+100000" are not ours).
std::optional<uint32_t> ParseDecimal(absl::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

bool ValidOwner(absl::string_view id) {
  return !id.empty() && id.size() <= kMaxOwnerBytes && id.find_first_of(absl::string_view("\n\0/", 3)) == absl::string_view::npos;
}

// The container id in a range file; nullopt when it cannot be read as one (not a regular
// file, unreadable, empty, too long).
std::optional<std::string> ReadOwner(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  char buf[kMaxOwnerBytes + 2];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = ::read(fd.get(), buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  absl::string_view id = absl::StripAsciiWhitespace(absl::string_view(buf, got));
  if (!ValidOwner(id)) return std::nullopt;
  return std::string(id);
}

std::string Ids(uint64_t first) { return absl::StrCat(first, "-", first + kRange - 1); }

}  // namespace

absl::Status ValidateUsernsPoolRange(uint32_t start, uint32_t size) {
  if (size == 0 || size % kRange != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("userns_pool size must be a non-zero multiple of ", kRange, ", got ", size));
  }
  if (start == 0) {
    return absl::InvalidArgumentError(
        "userns_pool start must not be 0: host root would be inside a container's range (65536 or above is usual)");
  }
  // uid/gid 4294967295 is (uid_t)-1, "no id": the last id of the pool must be below it.
  if (static_cast<uint64_t>(start) + size > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("userns_pool ", start, ":", size, " ends beyond host id ", UINT32_MAX - 1));
  }
  return absl::OkStatus();
}

absl::StatusOr<UsernsPoolRange> ParseUsernsPoolRange(absl::string_view text) {
  size_t colon = text.find(':');
  std::optional<uint32_t> start, size;
  if (colon != absl::string_view::npos) {
    start = ParseDecimal(text.substr(0, colon));
    size = ParseDecimal(text.substr(colon + 1));
  }
  if (!start || !size) {
    return absl::InvalidArgumentError(
        absl::StrCat("userns_pool must be \"START:SIZE\" in decimal (e.g. \"100000:6553600\"), got \"", text, "\""));
  }
  if (absl::Status st = ValidateUsernsPoolRange(*start, *size); !st.ok()) return st;
  return UsernsPoolRange{*start, *size};
}

absl::StatusOr<UsernsPool> UsernsPool::Open(const std::string& dir, uint32_t start, uint32_t size) {
  if (absl::Status st = ValidateUsernsPoolRange(start, size); !st.ok()) return st;
  if (absl::Status st = MakeDirs(dir, 0700); !st.ok()) return Annotate(st, "userns pool");
  UsernsPool pool(dir, start, size);
  if (start < kRange) {
    spdlog::warn("{}: starts below {}, where the node's own users and groups usually are", pool.Describe(), kRange);
  }
  const uint64_t end = static_cast<uint64_t>(start) + size;
  {
    State& s = *pool.state_;
    absl::MutexLock lock(&s.mu);  // nobody else sees the pool yet; for the annotations
    for (const std::string& name : ListDirectory(dir)) {
      std::optional<uint32_t> first = ParseDecimal(name);
      if (!first) continue;  // not a range file (e.g. an interrupted write's temp file)
      std::optional<std::string> owner = ReadOwner(pool.PathOf(*first));
      const uint64_t lo = *first;
      if (lo >= start && lo < end && (lo - start) % kRange == 0) {
        if (!owner) {
          spdlog::warn("{}: range file {} holds no container id; keeping ids {} out of use", pool.Describe(),
                       pool.PathOf(*first), Ids(lo));
        }
        s.ranges[*first] = owner.value_or("");
        continue;
      }
      // From an earlier configuration of the pool: not ours to hand out or free, but its
      // container may still run with these ids, so no overlapping range of ours is used.
      const uint64_t hi = lo + kRange;  // exclusive
      int overlapped = 0;
      if (hi > start && lo < end) {
        uint64_t k0 = lo > start ? (lo - start) / kRange : 0;
        for (uint64_t r = start + k0 * kRange; r < end && r < hi; r += kRange) {
          s.blocked.insert(static_cast<uint32_t>(r));
          ++overlapped;
        }
      }
      spdlog::warn("{}: ignoring range file {} (ids {}, container {}): not a range of this pool{}", pool.Describe(),
                   pool.PathOf(*first), Ids(lo), owner.value_or("unknown"),
                   overlapped > 0 ? absl::StrCat("; keeping the ", overlapped, " pool range(s) it overlaps out of use") : "");
    }
  }
  return pool;
}

std::string UsernsPool::PathOf(uint32_t first) const { return absl::StrCat(dir_, "/", first); }

std::string UsernsPool::Describe() const { return absl::StrCat("userns pool ", start_, ":", size_, " (", dir_, ")"); }

absl::StatusOr<uint32_t> UsernsPool::Allocate(const std::string& container_id) {
  if (!ValidOwner(container_id)) {
    return absl::InvalidArgumentError(absl::StrCat(Describe(), ": not a container id: \"", absl::CEscape(container_id.substr(0, 80)), "\""));
  }
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  for (const auto& [first, owner] : s.ranges) {
    if (owner == container_id) return first;
  }
  const uint64_t end = static_cast<uint64_t>(start_) + size_;
  for (uint64_t r = start_; r < end; r += kRange) {
    uint32_t first = static_cast<uint32_t>(r);
    if (s.ranges.contains(first) || s.blocked.contains(first)) continue;
    // Durable before it is used: a host crash must not forget a range a container runs with.
    if (absl::Status st = WriteFileAtomic(PathOf(first), container_id + "\n", 0600, Durability::kDurable); !st.ok()) {
      return Annotate(st, absl::StrCat(Describe(), ": record ids ", Ids(first), " for container ", container_id));
    }
    s.ranges[first] = container_id;
    spdlog::debug("{}: ids {} to container {}", Describe(), Ids(first), container_id);
    return first;
  }
  std::string blocked =
      s.blocked.empty() ? "" : absl::StrCat(" (", s.blocked.size(), " of them kept out of use by range files of an earlier pool configuration)");
  return absl::ResourceExhaustedError(absl::StrCat(Describe(), " is full: all ", size_ / kRange, " ranges of ", kRange,
                                                   " ids are in use", blocked,
                                                   "; remove containers or enlarge userns_pool"));
}

absl::Status UsernsPool::Release(const std::string& container_id) {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  absl::Status result;
  for (auto it = s.ranges.begin(); it != s.ranges.end();) {
    if (container_id.empty() || it->second != container_id) {
      ++it;
      continue;
    }
    // Not fsynced: a release a crash forgets is redone by Reconcile, as the container is gone.
    if (::unlink(PathOf(it->first).c_str()) != 0 && errno != ENOENT) {
      absl::Status st = ErrnoToStatus(absl::StrCat(Describe(), ": free ids ", Ids(it->first), " of container ", container_id));
      if (result.ok()) result = st;
      ++it;
      continue;
    }
    it = s.ranges.erase(it);
  }
  return result;
}

std::optional<uint32_t> UsernsPool::RangeOf(const std::string& container_id) const {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  for (const auto& [first, owner] : s.ranges) {
    if (!container_id.empty() && owner == container_id) return first;
  }
  return std::nullopt;
}

void UsernsPool::Reconcile(const std::set<std::string>& known_container_ids) {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  for (auto it = s.ranges.begin(); it != s.ranges.end();) {
    const auto& [first, owner] = *it;
    if (owner.empty()) {
      spdlog::warn("{}: ids {} stay in use: range file {} names no container (remove it once nothing runs with these ids)",
                   Describe(), Ids(first), PathOf(first));
      ++it;
      continue;
    }
    if (known_container_ids.contains(owner)) {
      ++it;
      continue;
    }
    if (::unlink(PathOf(first).c_str()) != 0 && errno != ENOENT) {
      absl::Status st = ErrnoToStatus(absl::StrCat("remove ", PathOf(first)));
      spdlog::warn("{}: cannot free ids {} of container {}, which has no record: {}", Describe(), Ids(first), owner, st.message());
      ++it;
      continue;
    }
    spdlog::info("{}: freed ids {} of container {}, which has no record", Describe(), Ids(first), owner);
    it = s.ranges.erase(it);
  }
}

}  // namespace berth::agent
