#include "agent/log_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

namespace {

// Splits complete lines out of `buffer`, leaving an unfinished last line in it.
template <typename F>
void TakeLines(std::string& buffer, F&& on_line) {
  size_t start = 0;
  for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    on_line(std::string_view(buffer).substr(start, nl - start));
  }
  buffer.erase(0, start);
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
  char chunk[65536];
  auto read_available = [&]() -> bool {
    if (!fd) {
      fd.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return false;
    }
    bool any = false;
    for (;;) {
      ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      any = true;
    }
    return any;
  };

  // The backlog: parse everything, keep what tail/since select.
  read_available();
  std::deque<crilog::Entry> backlog;
  int64_t complete_lines = 0;
  TakeLines(buffer, [&](std::string_view line) {
    auto entry = crilog::ParseLine(absl::string_view(line.data(), line.size()));
    if (!entry.ok() || entry->time_ns < query.since_ns) return;
    if (!entry->partial) ++complete_lines;
    backlog.push_back(std::move(*entry));
  });
  if (query.tail > 0) {
    // Drop whole lines (a run of P entries plus its F) from the front until `tail` remain.
    int64_t drop = complete_lines - query.tail;
    while (drop > 0 && !backlog.empty()) {
      if (!backlog.front().partial) --drop;
      backlog.pop_front();
    }
  }
  for (const auto& e : backlog) {
    if (!emit(e)) return absl::OkStatus();
  }
  if (!query.follow) return absl::OkStatus();

  for (;;) {
    bool done = finished();  // read once more after the container ended, then stop
    if (read_available()) {
      bool keep_going = true;
      TakeLines(buffer, [&](std::string_view line) {
        if (!keep_going) return;
        auto entry = crilog::ParseLine(absl::string_view(line.data(), line.size()));
        if (entry.ok() && entry->time_ns >= query.since_ns) keep_going = emit(*entry);
      });
      if (!keep_going) return absl::OkStatus();
      continue;
    }
    if (done) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace berth::agent
