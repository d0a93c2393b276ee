#include "runtime/shim/cri_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"
#include "runtime/base/crash_point.h"
#include "runtime/base/errno_status.h"

namespace berth::crilog {

namespace {

constexpr int64_t kNanosPerSecond = 1000000000;
constexpr size_t kMaxEntryText = 16 * 1024;

// Days since 1970-01-01 of a proleptic Gregorian date, and back (the era-based method: 400-year
// cycles of 146097 days, years starting in March so the leap day is last).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` ASCII digits at text[pos].
bool Digits(absl::string_view text, size_t pos, size_t n, int64_t& out) {
  if (pos + n > text.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

bool At(absl::string_view text, size_t pos, char c) { return pos < text.size() && text[pos] == c; }

absl::Status BadTimestamp(absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("malformed RFC 3339 timestamp \"", text, "\""));
}

const char* StreamName(Stream s) { return s == Stream::kStdout ? "stdout" : "stderr"; }

void AppendEntry(std::string& out, absl::string_view ts, Stream stream, bool partial,
                 absl::string_view text) {
  absl::StrAppend(&out, ts, " ", StreamName(stream), partial ? " P " : " F ", text, "\n");
}

}  // namespace

std::string FormatTimestamp(int64_t time_ns) {
  int64_t secs = time_ns / kNanosPerSecond;
  int64_t nanos = time_ns % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02d.%09lldZ",
                static_cast<long long>(y), m, d, static_cast<int>(rem / 3600),
                static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60),
                static_cast<long long>(nanos));
  return buf;
}

// RFC 3339 (section 5.6) as Go's RFC3339Nano writes it: an upper-case 'T' and 'Z', an optional
// fraction of 1 to 9 digits, and 'Z' or a numeric offset. Nothing else is accepted.
absl::StatusOr<int64_t> ParseTimestamp(absl::string_view text) {
  int64_t year, month, day, hour, minute, second;
  if (!Digits(text, 0, 4, year) || !At(text, 4, '-') || !Digits(text, 5, 2, month) ||
      !At(text, 7, '-') || !Digits(text, 8, 2, day) || !At(text, 10, 'T') ||
      !Digits(text, 11, 2, hour) || !At(text, 13, ':') || !Digits(text, 14, 2, minute) ||
      !At(text, 16, ':') || !Digits(text, 17, 2, second)) {
    return BadTimestamp(text);
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, static_cast<unsigned>(month)) ||
      hour > 23 || minute > 59 || second > 59) {
    return BadTimestamp(text);
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (At(text, pos, '.')) {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++digits > 9) return BadTimestamp(text);
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return BadTimestamp(text);
    for (; digits < 9; ++digits) nanos *= 10;
  }
  int64_t offset_secs = 0;
  if (At(text, pos, 'Z')) {
    ++pos;
  } else if (At(text, pos, '+') || At(text, pos, '-')) {
    int64_t oh, om;
    if (!Digits(text, pos + 1, 2, oh) || !At(text, pos + 3, ':') || !Digits(text, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return BadTimestamp(text);
    }
    offset_secs = (oh * 3600 + om * 60) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return BadTimestamp(text);
  }
  if (pos != text.size()) return BadTimestamp(text);

  int64_t secs =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_secs;
  // int64 nanoseconds cover 1677..2262.
  constexpr int64_t kMaxSecs = std::numeric_limits<int64_t>::max() / kNanosPerSecond - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) {
    return absl::OutOfRangeError(absl::StrCat("timestamp out of range: ", text));
  }
  return secs * kNanosPerSecond + nanos;
}

std::string FormatLine(const Entry& entry) {
  std::string out;
  AppendEntry(out, FormatTimestamp(entry.time_ns), entry.stream, entry.partial, entry.text);
  return out;
}

absl::StatusOr<Entry> ParseLine(absl::string_view line) {
  absl::string_view rest = line;
  if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
  if (rest.find('\n') != absl::string_view::npos) {
    return absl::InvalidArgumentError("CRI log line holds more than one line");
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed CRI log line (", why, "): \"", line.substr(0, 80), "\""));
  };
  size_t sp = rest.find(' ');
  if (sp == absl::string_view::npos) return bad("no timestamp");
  auto time_ns = ParseTimestamp(rest.substr(0, sp));
  if (!time_ns.ok()) return bad(time_ns.status().message());
  rest.remove_prefix(sp + 1);

  Entry entry;
  entry.time_ns = *time_ns;
  if (rest.substr(0, 7) == "stdout ") {
    entry.stream = Stream::kStdout;
  } else if (rest.substr(0, 7) == "stderr ") {
    entry.stream = Stream::kStderr;
  } else {
    return bad("stream is neither stdout nor stderr");
  }
  rest.remove_prefix(7);
  if (rest.substr(0, 2) == "F ") {
    entry.partial = false;
  } else if (rest.substr(0, 2) == "P ") {
    entry.partial = true;
  } else {
    return bad("tag is neither F nor P");
  }
  rest.remove_prefix(2);
  entry.text = std::string(rest);
  return entry;
}

std::string RotatedLogPath(const std::string& path, int n) {
  return n == 0 ? path : absl::StrCat(path, ".", n);
}

absl::StatusOr<LogWriter> LogWriter::Open(const std::string& path, LogRotation rotation) {
  if (rotation.max_bytes < 0 || rotation.max_files < 1) {
    return absl::InvalidArgumentError("log rotation: max size must not be negative and max files at least 1");
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return ErrnoToStatus(absl::StrCat("open log ", path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(absl::StrCat("stat log ", path));
  LogWriter writer(std::move(fd));
  writer.path_ = path;
  writer.rotation_ = rotation;
  writer.size_ = st.st_size;
  return writer;
}

absl::Status LogWriter::WriteOut(absl::string_view out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd_.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus("write CRI log");
    }
    done += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(out.size());
  return absl::OkStatus();
}

// Renames, newest last, so that at every moment each name holds a whole file: a reader that
// opened the current file keeps reading it under its new name, and `path` is missing only
// between the last rename and the open below.
absl::Status LogWriter::Rotate() {
  const int keep = rotation_.max_files;
  if (keep == 1) {
    // Nothing older is kept: start the same file over (a reader's offset is past its end).
    if (::ftruncate(fd_.get(), 0) != 0) return ErrnoToStatus("truncate CRI log");
  } else {
    (void)::unlink(RotatedLogPath(path_, keep - 1).c_str());
    for (int n = keep - 2; n >= 0; --n) {
      if (::rename(RotatedLogPath(path_, n).c_str(), RotatedLogPath(path_, n + 1).c_str()) != 0 && errno != ENOENT) {
        return ErrnoToStatus(absl::StrCat("rotate CRI log ", RotatedLogPath(path_, n)));
      }
    }
    CrashPoint("rotation.renamed");
    UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd) return ErrnoToStatus(absl::StrCat("open log ", path_));
    fd_ = std::move(fd);
  }
  size_ = 0;
  ++rotations_;
  return absl::OkStatus();
}

absl::Status LogWriter::Write(Stream stream, absl::string_view data, int64_t now_ns) {
  if (data.empty()) return absl::OkStatus();
  const std::string ts = FormatTimestamp(now_ns);
  const bool rotating = !path_.empty() && rotation_.max_bytes > 0;
  std::string out;
  out.reserve(data.size() + 48 * (1 + data.size() / 80));
  // Each entry goes into `out`; when the next one would take the file past its size, what
  // is pending is written, the file rotated, and the entry begins the new file.
  absl::Status status;
  auto add = [&](bool partial, absl::string_view text) {
    if (!status.ok()) return;
    const size_t before = out.size();
    AppendEntry(out, ts, stream, partial, text);
    if (!rotating) return;
    const int64_t entry = static_cast<int64_t>(out.size() - before);
    if (size_ + static_cast<int64_t>(before) + entry > rotation_.max_bytes && size_ + static_cast<int64_t>(before) > 0) {
      std::string entry_text = out.substr(before);
      out.resize(before);
      status = WriteOut(out);
      if (status.ok()) status = Rotate();
      out = std::move(entry_text);
    }
  };
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    const bool complete = nl != absl::string_view::npos;
    const size_t end = complete ? nl : data.size();
    while (end - pos > kMaxEntryText) {
      add(/*partial=*/true, data.substr(pos, kMaxEntryText));
      pos += kMaxEntryText;
    }
    add(/*partial=*/!complete, data.substr(pos, end - pos));
    pos = complete ? end + 1 : end;
  }
  if (!status.ok()) return status;
  // One write for the rest: the file is O_APPEND, so entries from one chunk stay together.
  return WriteOut(out);
}

}  // namespace berth::crilog
