#include "agent/event_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

using google::protobuf::util::TimeUtil;

// A record: u32 payload length, u32 crc32 of the payload (both little endian), the payload
// (a serialised v1::Event). A record is never larger than this.
constexpr size_t kHeader = 8;
constexpr uint32_t kMaxRecord = 1u << 20;
constexpr const char* kPrefix = "segment-";
constexpr const char* kSuffix = ".events";

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
uint32_t Checksum(const std::string& payload) {
  return static_cast<uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
}

// Walks the records of one segment file. `fn` gets each payload and its end offset; it
// returns false to stop. Returns the offset after the last whole, valid record.
absl::StatusOr<uint64_t> ScanSegment(int fd, const std::function<bool(const std::string&, uint64_t)>& fn) {
  uint64_t offset = 0;
  std::string payload;
  char header[kHeader];
  for (;;) {
    ssize_t n = ::pread(fd, header, kHeader, static_cast<off_t>(offset));
    if (n < 0) return ErrnoToStatus("read event journal");
    if (static_cast<size_t>(n) < kHeader) return offset;
    uint32_t length = GetU32(header), sum = GetU32(header + 4);
    if (length == 0 || length > kMaxRecord) return offset;
    payload.resize(length);
    n = ::pread(fd, payload.data(), length, static_cast<off_t>(offset + kHeader));
    if (n < 0) return ErrnoToStatus("read event journal");
    if (static_cast<uint32_t>(n) < length || Checksum(payload) != sum) return offset;
    offset += kHeader + length;
    if (!fn(payload, offset)) return offset;
  }
}

}  // namespace

std::string EventJournal::SegmentPath(uint64_t first) const {
  return absl::StrFormat("%s/%s%020u%s", dir_, kPrefix, first, kSuffix);
}

absl::StatusOr<std::unique_ptr<EventJournal>> EventJournal::Open(const std::string& dir, JournalLimits limits) {
  if (absl::Status st = MakeDirs(dir, 0700); !st.ok()) return st;
  std::unique_ptr<EventJournal> journal(new EventJournal(dir, limits));
  EventJournal& j = *journal;
  std::lock_guard<std::mutex> lock(j.mu_);
  for (const std::string& name : ListDirectory(dir)) {
    uint64_t first = 0;
    if (!absl::StartsWith(name, kPrefix) || !absl::EndsWith(name, kSuffix) ||
        !absl::SimpleAtoi(name.substr(std::strlen(kPrefix), name.size() - std::strlen(kPrefix) - std::strlen(kSuffix)),
                          &first) ||
        first == 0) {
      continue;
    }
    j.segments_[first] = Segment{first, 0, 0};
  }
  // Every segment but the last holds the events up to the next one's first; the last is
  // read through, and a torn or corrupt tail is cut off there.
  for (auto it = j.segments_.begin(); it != j.segments_.end(); ++it) {
    auto next = std::next(it);
    Segment& s = it->second;
    if (next != j.segments_.end()) {
      struct stat st;
      s.bytes = ::stat(j.SegmentPath(s.first).c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
      s.events = next->first - s.first;
      continue;
    }
    UniqueFd fd(::open(j.SegmentPath(s.first).c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
    if (!fd) return ErrnoToStatus(absl::StrCat("open ", j.SegmentPath(s.first)));
    auto end = ScanSegment(fd.get(), [&](const std::string&, uint64_t) {
      ++s.events;
      return true;
    });
    if (!end.ok()) return end.status();
    struct stat st;
    if (::fstat(fd.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) != *end) {
      spdlog::warn("event journal: cutting a torn record off {} at byte {}", j.SegmentPath(s.first), *end);
      if (::ftruncate(fd.get(), static_cast<off_t>(*end)) != 0) return ErrnoToStatus("truncate event journal");
    }
    s.bytes = *end;
    j.active_ = std::move(fd);
  }
  for (const auto& [first, s] : j.segments_) {
    j.events_ += s.events;
    j.bytes_ += s.bytes;
    j.last_ = first + s.events - 1;
  }
  if (j.segments_.empty()) {
    if (absl::Status st = j.StartSegment(1); !st.ok()) return st;
  }
  return journal;
}

absl::Status EventJournal::StartSegment(uint64_t first) {
  UniqueFd fd(::open(SegmentPath(first).c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return ErrnoToStatus(absl::StrCat("create ", SegmentPath(first)));
  if (active_ && dirty_) (void)::fdatasync(active_.get());  // the old one is complete now
  active_ = std::move(fd);
  segments_[first] = Segment{first, 0, 0};
  return absl::OkStatus();
}

void EventJournal::DropOldSegments() {
  while (segments_.size() > 1 && (events_ > limits_.max_events || bytes_ > limits_.max_bytes)) {
    const Segment oldest = segments_.begin()->second;
    if (::unlink(SegmentPath(oldest.first).c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("event journal: cannot drop {}: {}", SegmentPath(oldest.first), std::strerror(errno));
      return;
    }
    events_ -= oldest.events;
    bytes_ -= oldest.bytes;
    segments_.erase(segments_.begin());
  }
}

absl::Status EventJournal::Append(v1::Event& event) {
  std::lock_guard<std::mutex> lock(mu_);
  Segment* active = &segments_.rbegin()->second;
  if (active->events >= limits_.segment_events || active->bytes >= limits_.segment_bytes) {
    if (absl::Status st = StartSegment(last_ + 1); !st.ok()) return st;
    active = &segments_.rbegin()->second;
  }
  event.set_sequence(last_ + 1);
  std::string payload;
  if (!event.SerializeToString(&payload)) return absl::InternalError("event journal: cannot serialise an event");
  if (payload.size() > kMaxRecord) {
    return absl::InvalidArgumentError(absl::StrCat("event of ", payload.size(), " bytes is over the journal's limit"));
  }
  std::string record(kHeader, '\0');
  PutU32(record.data(), static_cast<uint32_t>(payload.size()));
  PutU32(record.data() + 4, Checksum(payload));
  record += payload;
  // One write with O_APPEND: a crash leaves the record whole or a tail that Open cuts off.
  ssize_t n = ::write(active_.get(), record.data(), record.size());
  if (n != static_cast<ssize_t>(record.size())) {
    absl::Status st = n < 0 ? ErrnoToStatus("write event journal") : absl::ResourceExhaustedError("event journal: short write");
    // Whatever part made it is cut off so that the next record starts clean.
    (void)::ftruncate(active_.get(), static_cast<off_t>(active->bytes));
    return st;
  }
  last_ += 1;
  active->events += 1;
  active->bytes += record.size();
  events_ += 1;
  bytes_ += record.size();
  dirty_ = true;
  DropOldSegments();
  return absl::OkStatus();
}

absl::Status EventJournal::Sync() {
  int fd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dirty_) return absl::OkStatus();
    dirty_ = false;
    fd = ::fcntl(active_.get(), F_DUPFD_CLOEXEC, 0);
  }
  UniqueFd owned(fd);
  if (!owned || ::fdatasync(owned.get()) != 0) return ErrnoToStatus("sync event journal");
  return absl::OkStatus();
}

uint64_t EventJournal::first_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return segments_.begin()->second.events == 0 ? last_ + 1 : segments_.begin()->first;
}
uint64_t EventJournal::last_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}
uint64_t EventJournal::event_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}
uint64_t EventJournal::byte_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

absl::Status EventJournal::ReadAfter(uint64_t after, uint64_t upto,
                                     const std::function<bool(const v1::Event&)>& fn) const {
  auto dropped = [&](uint64_t oldest) {
    return absl::OutOfRangeError(absl::StrCat("event ", after + 1, " is no longer in the journal; the oldest kept is ",
                                              oldest));
  };
  std::vector<uint64_t> firsts;  // the segments that may hold (after, upto]
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t oldest = segments_.begin()->second.events == 0 ? last_ + 1 : segments_.begin()->first;
    if (after + 1 < oldest) return dropped(oldest);
    for (const auto& [first, s] : segments_) {
      if (first + s.events - 1 > after && first <= upto) firsts.push_back(first);
    }
  }
  v1::Event event;
  for (uint64_t first : firsts) {
    UniqueFd fd(::open(SegmentPath(first).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return dropped(first_sequence());  // dropped while we read
      return ErrnoToStatus("open event journal");
    }
    uint64_t sequence = first;
    bool stop = false;
    absl::Status decode_error;
    auto scanned = ScanSegment(fd.get(), [&](const std::string& payload, uint64_t) {
      uint64_t current = sequence++;
      if (current <= after) return true;
      if (current > upto) {
        stop = true;
        return false;
      }
      if (!event.ParseFromString(payload) || event.sequence() != current) {
        decode_error = absl::DataLossError(absl::StrCat("event journal: record ", current, " is damaged"));
        return false;
      }
      if (!fn(event)) stop = true;
      return !stop;
    });
    if (!scanned.ok()) return scanned.status();
    if (!decode_error.ok()) return decode_error;
    if (stop) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> EventJournal::SequenceBefore(absl::Time time) const {
  const int64_t wanted = absl::ToUnixNanos(time);
  uint64_t before = last_sequence();
  uint64_t first = first_sequence();
  absl::Status st = ReadAfter(first - 1, before, [&](const v1::Event& e) {
    if (TimeUtil::TimestampToNanoseconds(e.time()) >= wanted) {
      before = e.sequence() - 1;
      return false;
    }
    return true;
  });
  if (!st.ok()) return st;
  return before;
}

}  // namespace berth::agent
