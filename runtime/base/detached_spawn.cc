#include "runtime/base/detached_spawn.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <cerrno>

#include "runtime/base/errno_status.h"

namespace berth {
namespace {

struct SpawnJob {
  const char* path;
  const posix_spawn_file_actions_t* actions;
  const posix_spawnattr_t* attr;
  char* const* argv;
  char* const* envp;
  pid_t pid = 0;
  int error = 0;  // posix_spawn's
};

// The helper: its return ends it, which orphans the program it started.
int SpawnAndLeave(void* arg) {
  SpawnJob& job = *static_cast<SpawnJob*>(arg);
  job.error = ::posix_spawn(&job.pid, job.path, job.actions, job.attr, job.argv, job.envp);
  return 0;
}

// posix_spawn's own child runs on a stack it maps itself; the helper needs little.
constexpr size_t kHelperStack = 64 * 1024;

}  // namespace

absl::StatusOr<pid_t> SpawnDetached(const char* path, const posix_spawn_file_actions_t* actions,
                                    const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  void* stack = ::mmap(nullptr, kHelperStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return ErrnoToStatus("map a stack for the spawn helper");
  SpawnJob job{path, actions, attr, argv, envp};
  // The helper inherits this mask: none of the caller's signal handlers can run on its stack,
  // in memory the two share. (The program's own mask comes from `attr`, or posix_spawn's.)
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t helper = ::clone(SpawnAndLeave, static_cast<char*>(stack) + kHelperStack,
                               CLONE_VM | CLONE_VFORK | SIGCHLD, &job);  // returns once the helper exited
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (helper > 0) {
    int status = 0;
    while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ::munmap(stack, kHelperStack);
  if (helper < 0) return ErrnoStatus(clone_errno, "start the spawn helper");
  if (job.error != 0) return ErrnoStatus(job.error, "spawn");
  return job.pid;
}

}  // namespace berth
