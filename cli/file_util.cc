#include "cli/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace berth::cli {
namespace {

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

absl::Status ErrnoStatus(int err, std::string_view message) {
  std::string text = absl::StrCat(std::string(message), ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(text);
    case EEXIST:
      return absl::AlreadyExistsError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    default:
      return absl::InternalError(text);
  }
}

absl::StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_size,
                                            std::string_view what) {
  const std::string where = std::string(what) + " " + path;
  // O_NONBLOCK: a FIFO put where a file should be must not hang the CLI.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return ErrnoStatus(errno, "cannot read the " + where);
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot read the " + where);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError("the " + where + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", where, " is too big (", st.st_size, " bytes, at most ", max_size, ")"));
  }
  std::string data;
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "cannot read the " + where);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_size) {
      return absl::InvalidArgumentError(absl::StrCat("the ", where, " is too big (at most ",
                                                     max_size, " bytes)"));
    }
  }
  return data;
}

absl::Status MakePrivateDirs(const std::string& dir) {
  std::filesystem::path path = std::filesystem::path(dir).lexically_normal();
  std::filesystem::path partial;
  for (const auto& part : path) {
    partial /= part;
    if (partial == partial.root_path()) continue;
    if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "cannot create " + partial.string());
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot create " + path.string());
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(path.string() + " exists and is not a directory");
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data, bool exclusive) {
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return ErrnoStatus(errno, "cannot write " + path);
  bool keep_tmp = false;
  struct TmpRemover {
    const std::string& tmp;
    const bool& keep;
    ~TmpRemover() {
      if (!keep) unlink(tmp.c_str());
    }
  } remover{tmp, keep_tmp};
  {
    FdCloser closer(fd);
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(errno, "cannot write " + path);
      done += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0) return ErrnoStatus(errno, "cannot write " + path);
  }
  if (exclusive) {
    // link() never replaces: two concurrent creates of one name cannot both win.
    if (link(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "cannot create " + path);
    return absl::OkStatus();  // the remover unlinks the temp name
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "cannot write " + path);
  keep_tmp = true;  // renamed away
  return absl::OkStatus();
}

}  // namespace berth::cli
