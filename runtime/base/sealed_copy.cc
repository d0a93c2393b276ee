#include "runtime/base/sealed_copy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth {

absl::StatusOr<UniqueFd> SealedCopy(const std::string& path) {
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
  if (::fcntl(copy.get(), F_ADD_SEALS, seals) != 0) return ErrnoToStatus("seal memfd");
  return copy;
}

}  // namespace berth
