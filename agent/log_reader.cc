#include "agent/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <optional>
#include <set>
#include <vector>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

namespace {

constexpr size_t kChunk = 65536;
// A container keeps at most 100 files (max-file); one more name exists during a rotation.
constexpr int kMaxRotatedFiles = 100;

// Splits complete lines out of `buffer`, leaving an unfinished last line in it.
template <typename F>
void TakeLines(std::string& buffer, F&& on_line) {
  size_t start = 0;
  for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    on_line(std::string_view(buffer).substr(start, nl - start));
  }
  buffer.erase(0, start);
}

// Reads the file backwards from `end` (just after a newline) for the lines at or after
// `since_ns` that complete the last `tail` (counted in `lines`, which goes on across files,
// newest first): a line is a run of P entries and its F. Returns the offset just after the
// entry where they begin, or nullopt when they begin before this file (the whole file is
// in). Only as much of the file as those lines take is read.
absl::StatusOr<std::optional<off_t>> TailStart(int fd, off_t end, int64_t tail, int64_t since_ns, int64_t& lines) {
  std::string pending;  // bytes [pos, pos + pending.size()), ending at a record's end
  std::vector<char> block(kChunk);
  // Looks at one record; true when the tail starts right after it.
  auto starts_after = [&](std::string_view record) {
    auto entry = crilog::ParseLine(absl::string_view(record.data(), record.size()));
    if (!entry.ok()) return false;
    if (entry->time_ns < since_ns) return true;
    return !entry->partial && tail > 0 && ++lines > tail;
  };
  off_t pos = end;
  while (pos > 0) {
    size_t n = static_cast<size_t>(std::min<off_t>(pos, static_cast<off_t>(kChunk)));
    pos -= static_cast<off_t>(n);
    ssize_t got;
    do {
      got = ::pread(fd, block.data(), n, pos);
    } while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(n)) return ErrnoToStatus("read the log backwards");
    pending.insert(0, block.data(), n);
    size_t record_end = pending.size();
    // Every record whose start is known: the text after the newline before it.
    for (size_t prev; record_end >= 2 && (prev = pending.rfind('\n', record_end - 2)) != std::string::npos;
         record_end = prev + 1) {
      std::string_view record(pending.data() + prev + 1, record_end - prev - 1);
      if (starts_after(record)) return std::optional<off_t>(pos + static_cast<off_t>(record_end));
    }
    pending.resize(record_end);
  }
  if (!pending.empty() && starts_after(pending)) return std::optional<off_t>(static_cast<off_t>(pending.size()));
  return std::optional<off_t>();
}

ino_t InodeOf(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

ino_t InodeAt(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// The log's files, oldest first (path.N ... path.1, path), opened as one set: the current
// file is opened first and the set is taken only if no rotation happened meanwhile (the
// current name still names it). `newer_than`: only the files after that one (an inode the
// caller holds); all of them when it is no longer among them.
absl::StatusOr<std::vector<UniqueFd>> OpenLogFiles(const std::string& path, ino_t newer_than = 0) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    UniqueFd current(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!current) {
      if (errno != ENOENT) return ErrnoToStatus(absl::StrCat("open log ", path));
      // Missing: nothing written yet, or between a rotation's rename and its open.
      if (::access(crilog::RotatedLogPath(path, 1).c_str(), F_OK) != 0) return std::vector<UniqueFd>();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    std::vector<UniqueFd> newest_first;
    const ino_t current_inode = InodeOf(current.get());
    bool reached = newer_than != 0 && current_inode == newer_than;
    std::set<ino_t> seen = {current_inode};
    if (!reached) newest_first.push_back(std::move(current));
    // A rotation renames the oldest first, each file one number up, while this walks the
    // numbers upwards: it can meet a gap (path.N+1 made, path.N not yet) or meet a file a
    // second time, one number higher, but never miss one. So: every number, each file once,
    // in the order first met.
    for (int n = 1; !reached && n <= kMaxRotatedFiles; ++n) {
      UniqueFd fd(::open(crilog::RotatedLogPath(path, n).c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) continue;
      const ino_t inode = InodeOf(fd.get());
      if (newer_than != 0 && inode == newer_than) break;
      if (!seen.insert(inode).second) continue;
      newest_first.push_back(std::move(fd));
    }
    if (InodeAt(path) != current_inode) continue;  // rotated while we opened: again
    std::reverse(newest_first.begin(), newest_first.end());
    return newest_first;
  }
  return absl::UnavailableError(absl::StrCat("log ", path, " kept rotating while it was opened"));
}

}  // namespace

absl::Status ReadLogs(const std::string& path, const LogQuery& query,
                      const std::function<bool(const crilog::Entry&)>& emit, const std::function<bool()>& finished) {
  absl::StatusOr<std::vector<UniqueFd>> files = OpenLogFiles(path);
  if (!files.ok()) return files.status();
  if (files->empty() && !query.follow) return absl::OkStatus();  // nothing written yet

  std::string buffer;
  std::vector<char> chunk(kChunk);
  bool stopped = false;
  auto emit_line = [&](std::string_view line) {
    if (stopped) return false;
    auto entry = crilog::ParseLine(absl::string_view(line.data(), line.size()));
    // Entries are in time order: the first one past `until` ends the read.
    if (entry.ok() && query.until_ns > 0 && entry->time_ns > query.until_ns) stopped = true;
    if (!stopped && entry.ok() && entry->time_ns >= query.since_ns && !emit(*entry)) stopped = true;
    return !stopped;
  };
  // Reads what `fd` has from its offset on, a chunk at a time, handing each complete line
  // over; false when nothing was read. Memory stays at a chunk plus one unfinished line.
  auto read_available = [&](int fd) -> bool {
    bool any = false;
    while (!stopped) {
      ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk.data(), static_cast<size_t>(n));
      any = true;
      TakeLines(buffer, emit_line);
    }
    return any;
  };

  // The backlog: where the tail begins (found reading backwards, newest file first), then
  // every file from there on, streamed forwards.
  size_t first = 0;
  if (query.tail > 0 || query.since_ns > 0) {
    int64_t lines = 0;
    first = files->size();
    while (first > 0) {
      int fd = (*files)[first - 1].get();
      off_t size = ::lseek(fd, 0, SEEK_END);
      if (size < 0) return ErrnoToStatus(absl::StrCat("seek log ", path));
      // Complete records only: an unfinished last one is still being written.
      off_t end = size;
      char last = 0;
      while (end > 0 && ::pread(fd, &last, 1, end - 1) == 1 && last != '\n') --end;
      auto start = TailStart(fd, end, query.tail, query.since_ns, lines);
      if (!start.ok()) return Annotate(start.status(), path);
      --first;
      if (::lseek(fd, start->value_or(0), SEEK_SET) < 0) return ErrnoToStatus(absl::StrCat("seek log ", path));
      if (start->has_value()) break;
    }
  }
  for (size_t i = first; i < files->size(); ++i) {
    if (i + 1 < files->size()) {
      read_available((*files)[i].get());
      buffer.clear();  // a rotated file ends with a whole record
    }
  }
  if (files->empty()) {
    files->emplace_back();  // follow: wait for the first file
  } else {
    read_available(files->back().get());
  }
  if (stopped || !query.follow) return absl::OkStatus();

  // Follow the current file; when it is rotated away, finish it and go on with the files
  // that came after it.
  UniqueFd current = std::move(files->back());
  for (;;) {
    bool done = finished();  // read once more after the container ended, then stop
    if (current) {
      // max-file 1 rotates by truncating the one file: start it over.
      struct stat st;
      off_t at = ::lseek(current.get(), 0, SEEK_CUR);
      if (::fstat(current.get(), &st) == 0 && at > st.st_size) {
        (void)::lseek(current.get(), 0, SEEK_SET);
        buffer.clear();
      }
    }
    if (current && read_available(current.get())) {
      if (stopped) return absl::OkStatus();
      continue;
    }
    const ino_t ours = current ? InodeOf(current.get()) : 0;
    if (InodeAt(path) != ours && (current || ::access(path.c_str(), F_OK) == 0)) {
      if (current) read_available(current.get());  // what was written before the rename
      if (stopped) return absl::OkStatus();
      buffer.clear();
      absl::StatusOr<std::vector<UniqueFd>> newer = OpenLogFiles(path, ours);
      if (!newer.ok()) return newer.status();
      if (!newer->empty()) {
        for (size_t i = 0; i + 1 < newer->size(); ++i) {
          read_available((*newer)[i].get());
          buffer.clear();
          if (stopped) return absl::OkStatus();
        }
        current = std::move(newer->back());
        continue;
      }
    }
    if (done || (query.until_ns > 0 && absl::GetCurrentTimeNanos() > query.until_ns)) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace berth::agent
