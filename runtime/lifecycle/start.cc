// Start: open the start FIFO; init reads the byte and execs the user's process.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/hooks.h"
#include "runtime/lifecycle/lifecycle.h"

namespace berth::lifecycle {

namespace {

// Waits until init has no reader left on the FIFO: its end is close-on-exec, so that is the
// moment of its execve (or of its death).
absl::Status AwaitExec(int fifo_fd) {
  for (;;) {
    pollfd p = {fifo_fd, 0, 0};  // POLLERR comes unasked once no reader is left
    int n = ::poll(&p, 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus("poll the start FIFO");
    if (p.revents & (POLLERR | POLLHUP)) return absl::OkStatus();
  }
}

absl::Status StartLocked(const Runtime& rt, const std::string& id, ContainerRecord& record) {
  ContainerStatus status = CurrentStatus(record);
  if (status != ContainerStatus::kCreated) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot start container ", Quoted(id), ": it is ", StatusName(status), ", not created"));
  }
  const std::string fifo = rt.store.FifoPath(id);
  UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENXIO) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot start container ", Quoted(id), ": its init is no longer waiting"));
    }
    return ErrnoToStatus(absl::StrCat("open ", fifo));
  }
  if (::write(fd.get(), "0", 1) != 1) return ErrnoToStatus(absl::StrCat("write ", fifo));
  RETURN_IF_ERROR(AwaitExec(fd.get()));
  record.started = true;
  RETURN_IF_ERROR(rt.store.Save(record));
  ::unlink(fifo.c_str());

  absl::StatusOr<std::string> exec_error = ReadFile(rt.store.ExecErrorPath(id));
  if (exec_error.ok() && !exec_error->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("start container ", Quoted(id), ": ", absl::StripAsciiWhitespace(*exec_error)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Start(const Runtime& rt, const std::string& id) {
  ASSIGN_OR_RETURN(StateLock lock, rt.store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord record, rt.store.Load(id));
  RETURN_IF_ERROR(StartLocked(rt, id, record));
  ASSIGN_OR_RETURN(std::string config, ReadFile(rt.store.ConfigPath(id)));
  ASSIGN_OR_RETURN(spec::Spec spec, spec::ParseSpec(config));
  HookRun hooks{"hooks.poststart", StateJson(record, CurrentStatus(record), -1)};
  // The spec: a failing poststart hook is a warning; the container keeps running.
  if (absl::Status st = RunHooks(spec.hooks.poststart, hooks); !st.ok()) {
    return absl::Status(absl::StatusCode::kAborted, absl::StrCat("container started, but ", st.message()));
  }
  return absl::OkStatus();
}

}  // namespace berth::lifecycle
