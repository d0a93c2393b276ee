// The agent's pool of host uids/gids for `--userns=auto`: each container gets its own range
// of 65536 ids (inside it: 0..65535), taken from [start, start + size) of the node's ids.
//
// On disk, under <root>/userns: one file per range in use, named by the range's first host
// id and holding the owning container's id. The file is written durably (fsync of the file
// and the directory) BEFORE Allocate returns the range, so no range is ever handed out twice,
// across agent crashes, restarts and host crashes alike; a range whose container is gone is
// freed by Reconcile at start-up.
//
// Thread-safe. Mapping the ranges into containers (uid_map/gid_map) is the runtime's business.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace berth::agent {

// A pool's extent, as configured (`userns_pool = "100000:6553600"`).
struct UsernsPoolRange {
  uint32_t start = 0;
  uint32_t size = 0;
};

// "START:SIZE" in decimal, then ValidateUsernsPoolRange. INVALID_ARGUMENT naming the setting.
absl::StatusOr<UsernsPoolRange> ParseUsernsPoolRange(absl::string_view text);

// size: a non-zero multiple of 65536; start: not 0 (host root would be inside a container's
// range); the pool must end at or below 4294967295 (uid -1 is not an id). A start below
// 65536, where the node's own users live, is allowed but logged as a warning by Open.
absl::Status ValidateUsernsPoolRange(uint32_t start, uint32_t size);

class UsernsPool {
 public:
  static constexpr uint32_t kRangeSize = 65536;

  // Creates `dir` (0700) if needed and reads the allocations in it. A file whose name is not
  // a decimal number is not ours and is left alone. One whose range is not a range of this
  // pool (the pool's start or size changed) is logged and left alone; if its range overlaps
  // the pool, the ranges it overlaps stay unused while it exists, since its container may
  // still run with those ids. A range file that cannot be read, or holds no container id, is
  // counted as in use by an unknown owner (logged), so nothing is handed out twice.
  static absl::StatusOr<UsernsPool> Open(const std::string& dir, uint32_t start, uint32_t size);

  UsernsPool(UsernsPool&&) noexcept = default;
  UsernsPool& operator=(UsernsPool&&) noexcept = default;

  // The first host id of a 65536-id range for `container_id`: the range it holds already, or
  // the lowest free one, recorded durably before it is returned. RESOURCE_EXHAUSTED naming
  // the pool when every range is in use; INVALID_ARGUMENT for an empty id or one with a
  // newline or NUL.
  absl::StatusOr<uint32_t> Allocate(const std::string& container_id);

  // Frees every range `container_id` holds in the pool. OK when it holds none.
  absl::Status Release(const std::string& container_id);

  // The first host id of the range `container_id` holds, if any.
  std::optional<uint32_t> RangeOf(const std::string& container_id) const;

  // Start-up after a crash: frees (and logs) every range whose owner is not in
  // `known_container_ids`. Ranges of an unknown owner (unreadable files) are kept and logged.
  void Reconcile(const std::set<std::string>& known_container_ids);

  uint32_t start() const { return start_; }
  uint32_t size() const { return size_; }
  const std::string& dir() const { return dir_; }

 private:
  struct State {
    absl::Mutex mu;
    // first host id -> container id ("" for an unreadable file: in use, owner unknown).
    std::map<uint32_t, std::string> ranges ABSL_GUARDED_BY(mu);
    // Ranges of the pool kept out of use by an allocation outside the pool's grid (a range
    // file from an earlier configuration whose ids overlap them).
    std::set<uint32_t> blocked ABSL_GUARDED_BY(mu);
  };

  UsernsPool(std::string dir, uint32_t start, uint32_t size)
      : dir_(std::move(dir)), start_(start), size_(size), state_(std::make_unique<State>()) {}
  std::string PathOf(uint32_t first) const;
  std::string Describe() const;  // "userns pool 100000:6553600 (/var/lib/berth/userns)"

  std::string dir_;
  uint32_t start_ = 0;
  uint32_t size_ = 0;
  std::unique_ptr<State> state_;  // behind a pointer: absl::Mutex cannot move
};

}  // namespace berth::agent
