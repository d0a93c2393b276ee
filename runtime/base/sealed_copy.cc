#include "runtime/base/sealed_copy.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth {

namespace {

// Keeps the calling thread on the CPU it runs on, for its lifetime. F_SEAL_WRITE fails with
// EBUSY while a page of the memfd has a reference beyond its mappings, and a page just
// written sits in the writing CPU's LRU batch with one: the kernel drains only its own CPU's
// batch before it checks, so the copy and the seal must happen on one CPU.
class PinnedToThisCpu {
 public:
  PinnedToThisCpu() {
    int cpu = ::sched_getcpu();
    if (cpu < 0 || ::sched_getaffinity(0, sizeof(saved_), &saved_) != 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = ::sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~PinnedToThisCpu() {
    if (pinned_) ::sched_setaffinity(0, sizeof(saved_), &saved_);
  }
  PinnedToThisCpu(const PinnedToThisCpu&) = delete;
  PinnedToThisCpu& operator=(const PinnedToThisCpu&) = delete;

 private:
  cpu_set_t saved_;
  bool pinned_ = false;
};

}  // namespace

absl::StatusOr<UniqueFd> SealedCopy(const std::string& path) {
  PinnedToThisCpu pinned;
  UniqueFd source(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!source) return ErrnoToStatus(absl::StrCat("open ", path));
  struct stat st;
  if (::fstat(source.get(), &st) != 0) return ErrnoToStatus(absl::StrCat("stat ", path));
  std::string name = path.substr(path.find_last_of('/') + 1);
  UniqueFd copy(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) return ErrnoToStatus("memfd_create");
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::sendfile(copy.get(), source.get(), &offset, static_cast<size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoToStatus(absl::StrCat("copy ", path, " into a memfd"));
  }
  if (::fchmod(copy.get(), 0555) != 0) return ErrnoToStatus("chmod memfd");
  int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
  // Should a reference still be in flight (the pin failed, an unlucky moment), retry for a
  // while: the kernel gives up on its own after about a tenth of a second.
  for (int attempt = 0;; ++attempt) {
    if (::fcntl(copy.get(), F_ADD_SEALS, seals) == 0) break;
    if (errno != EBUSY || attempt == 20) return ErrnoToStatus("seal memfd");
    ::usleep(20000);
  }
  return copy;
}

}  // namespace berth
