#include "agent/log_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <vector>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

namespace {

constexpr size_t kChunk = 65536;

// Splits complete lines out of `buffer`, leaving an unfinished last line in it.
template <typename F>
void TakeLines(std::string& buffer, F&& on_line) {
  size_t start = 0;
  for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    on_line(std::string_view(buffer).substr(start, nl - start));
  }
  buffer.erase(0, start);
}

// Reads the file backwards from `end` (just after a newline) and returns the offset where the
// last `tail` whole lines at or after `since_ns` begin: just after the F entry that ends the
// line before them (a line is a run of P entries and its F), or after the last entry older
// than `since_ns`. Only as much of the file as those lines take is read.
absl::StatusOr<off_t> TailStart(int fd, off_t end, int64_t tail, int64_t since_ns) {
  std::string pending;  // bytes [pos, pos + pending.size()), ending at a record's end
  std::vector<char> block(kChunk);
  int64_t lines = 0;
  // Looks at one record; true when the tail starts right after it.
  auto starts_after = [&](std::string_view record) {
    auto entry = crilog::ParseLine(absl::string_view(record.data(), record.size()));
    if (!entry.ok()) return false;
    if (entry->time_ns < since_ns) return true;
    return !entry->partial && ++lines > tail;
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
      if (starts_after(record)) return pos + static_cast<off_t>(record_end);
    }
    pending.resize(record_end);
  }
  if (!pending.empty() && starts_after(pending)) return static_cast<off_t>(pending.size());
  return 0;
}

}  // namespace

absl::Status ReadLogs(const std::string& path, const LogQuery& query,
                      const std::function<bool(const crilog::Entry&)>& emit, const std::function<bool()>& finished) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno != ENOENT) return ErrnoToStatus(absl::StrCat("open log ", path));
    if (!query.follow) return absl::OkStatus();  // nothing written yet
  }
  std::string buffer;
  std::vector<char> chunk(kChunk);
  // Reads what is there, a chunk at a time, handing each complete line to `on_line`; false
  // when nothing was read. Memory stays at a chunk plus one unfinished line.
  auto read_available = [&](const std::function<bool(std::string_view)>& on_line) -> bool {
    if (!fd) {
      fd.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return false;
    }
    bool any = false;
    bool keep_going = true;
    while (keep_going) {
      ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk.data(), static_cast<size_t>(n));
      any = true;
      TakeLines(buffer, [&](std::string_view line) { keep_going = keep_going && on_line(line); });
    }
    return any;
  };
  bool stopped = false;
  auto emit_line = [&](std::string_view line) {
    if (stopped) return false;
    auto entry = crilog::ParseLine(absl::string_view(line.data(), line.size()));
    if (entry.ok() && entry->time_ns >= query.since_ns && !emit(*entry)) stopped = true;
    return !stopped;
  };

  // The backlog: from where the tail begins (found reading backwards), streamed forwards.
  if (fd && query.tail > 0) {
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    if (size < 0) return ErrnoToStatus(absl::StrCat("seek log ", path));
    // Complete records only: an unfinished last one is still being written.
    off_t end = size;
    char last = 0;
    while (end > 0 && ::pread(fd.get(), &last, 1, end - 1) == 1 && last != '\n') --end;
    absl::StatusOr<off_t> start = TailStart(fd.get(), end, query.tail, query.since_ns);
    if (!start.ok()) return Annotate(start.status(), path);
    if (::lseek(fd.get(), *start, SEEK_SET) < 0) return ErrnoToStatus(absl::StrCat("seek log ", path));
  }
  read_available(emit_line);
  if (stopped) return absl::OkStatus();
  if (!query.follow) return absl::OkStatus();

  for (;;) {
    bool done = finished();  // read once more after the container ended, then stop
    if (read_available(emit_line)) {
      if (stopped) return absl::OkStatus();
      continue;
    }
    if (done) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace berth::agent
