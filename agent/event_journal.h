// The durable, bounded journal of events (ROOT/events/): append-only segment files of
// length- and checksum-framed berth.v1.Event records, named by the first sequence number
// they hold. Appends are written (not fsynced) before anyone sees the event, so an agent
// that is killed loses nothing it published; Sync() makes them survive a host crash too.
// Whole segments are dropped from the old end to stay within the limits. A torn record at
// the end (the agent died mid-write) is cut off when the journal is opened.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/v1/events.pb.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

struct JournalLimits {
  uint64_t max_events = 100000;
  uint64_t max_bytes = 64ull << 20;
  // A new segment is begun when the current one holds this many events or bytes; the
  // journal keeps between (max - one segment) and max.
  uint64_t segment_events = 10000;
  uint64_t segment_bytes = 8ull << 20;
};

class EventJournal {
 public:
  // Opens (or makes) the journal in `dir`, checking the last segment's records.
  static absl::StatusOr<std::unique_ptr<EventJournal>> Open(const std::string& dir, JournalLimits limits = {});

  // Gives `event` the next sequence number and writes it. Thread-safe.
  absl::Status Append(v1::Event& event);
  // fdatasync of what was appended since the last call.
  absl::Status Sync();

  // The oldest sequence number kept (last_sequence() + 1 when empty) and the newest given.
  uint64_t first_sequence() const;
  uint64_t last_sequence() const;
  uint64_t event_count() const;
  uint64_t byte_count() const;

  // Calls `fn` for each event with after < sequence <= upto, oldest first, until it returns
  // false. OUT_OF_RANGE when events after `after` have already been dropped (also when that
  // happens while reading).
  absl::Status ReadAfter(uint64_t after, uint64_t upto, const std::function<bool(const v1::Event&)>& fn) const;
  // The sequence number just before the first kept event recorded at or after `time`.
  absl::StatusOr<uint64_t> SequenceBefore(absl::Time time) const;

 private:
  struct Segment {
    uint64_t first = 0;  // first sequence number it holds (or will hold)
    uint64_t events = 0;
    uint64_t bytes = 0;
  };
  EventJournal(std::string dir, JournalLimits limits) : dir_(std::move(dir)), limits_(limits) {}
  std::string SegmentPath(uint64_t first) const;
  absl::Status StartSegment(uint64_t first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropOldSegments() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const JournalLimits limits_;
  mutable std::mutex mu_;
  std::map<uint64_t, Segment> segments_ ABSL_GUARDED_BY(mu_);  // by first sequence
  UniqueFd active_ ABSL_GUARDED_BY(mu_);                        // the newest segment, O_APPEND
  uint64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t events_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth::agent
