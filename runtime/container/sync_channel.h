// The parent/child channel of the container protocol: one SOCK_SEQPACKET socket pair, one
// packet per message {kind, errno, status code, text}, so a child's failure reaches the
// parent whole and in order. Both ends are CLOEXEC: when the child execs, the parent reads
// EOF, which is how a successful exec is told apart from a failed one.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/base/unique_fd.h"

namespace berth::container_internal {

enum class SyncKind : uint32_t {
  kParentDone = 1,    // parent -> child: the parent's part is done; join the cgroup, set up
  kReady = 2,         // child -> parent: set up, waiting at the start gate
  kGo = 3,            // parent -> child: exec the user's process now
  kError = 4,         // child -> parent: why it failed; the child _exit()s right after
};

struct SyncMessage {
  SyncKind kind = SyncKind::kError;
  int err = 0;          // the errno behind a kError, 0 when none
  absl::Status status;  // a kError's status (code + text); OK otherwise
  std::vector<UniqueFd> fds;  // passed with the message (SCM_RIGHTS), CLOEXEC
};

// ErrnoStatus(err, what) that also remembers `err`, so the errno survives the trip to the
// parent. Child code reports every syscall failure through these.
absl::Status SysError(int err, absl::string_view what);
absl::Status SysError(absl::string_view what);  // SysError(errno, what)
// The errno remembered by SysError, or 0.
int ErrnoOf(const absl::Status& status);
// Annotate() that keeps the remembered errno: "context: message".
absl::Status WithContext(const absl::Status& status, absl::string_view context);

class SyncChannel {
 public:
  SyncChannel() = default;
  explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}

  // A connected pair, both ends CLOEXEC.
  static absl::Status MakePair(SyncChannel* a, SyncChannel* b);

  absl::Status Send(SyncKind kind, const std::vector<int>& fds = {});
  // Sends kError carrying `status` (which must not be OK) and its errno.
  absl::Status SendError(const absl::Status& status);
  // One message; nullopt when the peer is gone (closed, exited or exec'd).
  absl::StatusOr<std::optional<SyncMessage>> Receive();

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  void Close() { fd_.Reset(); }
  // Moves the fd to a number >= `min_fd` (CLOEXEC kept); used by children whose fds 0-2 are
  // about to be replaced.
  absl::Status MoveAbove(int min_fd);

 private:
  UniqueFd fd_;
};

// Receives one message and requires it to be `expected`. A kError becomes its status; EOF
// becomes `eof_status`. The fds that came with it go to `fds` when given.
absl::Status ExpectMessage(SyncChannel& channel, SyncKind expected, const absl::Status& eof_status,
                           std::vector<UniqueFd>* fds = nullptr);

}  // namespace berth::container_internal
