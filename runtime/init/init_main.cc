// berth-init: a tiny PID 1 for `--init`.
//
//   berth-init [--] PROGRAM [ARGS...]
//   berth-init --pause
//
// A process that is PID 1 of a pid namespace gets no default signal actions (a SIGTERM it
// has no handler for is dropped) and inherits every orphan of the container, which nobody
// reaps unless it does. berth-init runs PROGRAM (execvp, in a process group of its own) as
// its only child and stays behind to:
//   - forward every catchable signal it receives to the child (the terminal's signals,
//     SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH and SIGCONT, to its whole process
//     group, as a terminal would);
//   - reap every process that exits under it (orphans are re-parented to PID 1; when not PID
//     1 it makes itself a child subreaper so they still come to it);
//   - exit, once the child has exited, with its exit code (128+N when killed by signal N).
// If PROGRAM cannot be executed: 127 when it does not exist, 126 otherwise, after printing
// "berth-init: exec PROGRAM: <reason>". 2 for a usage error.
//
// --pause runs nothing: it holds a pod's namespaces (the CRI sandbox) as their PID 1, reaps
// whatever is re-parented to it, and exits 0 at SIGTERM, SIGINT or SIGHUP.
//
// Signals are blocked and taken with sigwaitinfo(2): no handler runs, so nothing races.
// Plain C++ and libc only: linked statically, it runs inside any image.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// Signals the kernel raises for a fault of this very process stay unblocked: blocked, they
// would kill it anyway, without the core dump telling why.
constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};

// What a terminal sends to its foreground process group; forwarded to the child's group.
bool ForGroup(int sig) {
  switch (sig) {
    case SIGINT:
    case SIGQUIT:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
    case SIGWINCH:
    case SIGCONT:
      return true;
    default:
      return false;
  }
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// Reaps every child that has exited; true when `child` was one of them (its status stored).
bool ReapExited(pid_t child, int* child_status) {
  bool child_exited = false;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;  // 0: others still run; -1 (ECHILD): nobody left
    if (pid == child) {
      *child_status = status;
      child_exited = true;
    }
  }
  return child_exited;
}

[[noreturn]] void RunChild(char** argv, const sigset_t& original_mask) {
  setpgid(0, 0);
  // Give the terminal, if any, to the new group so the program can read it and gets ^C. With
  // SIGTTOU still blocked, tcsetpgrp works from what is until now a background group.
  if (isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpid());
  sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  execvp(argv[0], argv);
  int err = errno;
  dprintf(STDERR_FILENO, "berth-init: exec %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

// --pause: the loop of a process that only holds namespaces.
int Pause(const sigset_t& waited) {
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&waited, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      dprintf(STDERR_FILENO, "berth-init: sigwaitinfo: %s\n", strerror(errno));
      return 1;
    }
    if (sig == SIGCHLD) {
      int ignored;
      ReapExited(-1, &ignored);
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool pause = argc == 2 && strcmp(argv[1], "--pause") == 0;
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) ++first;
  if (first >= argc) {
    dprintf(STDERR_FILENO, "usage: berth-init [--] PROGRAM [ARGS...] | berth-init --pause\n");
    return 2;
  }
  // An inherited SIG_IGN for SIGCHLD would make the kernel reap children itself, and the
  // child's exit code would be lost.
  signal(SIGCHLD, SIG_DFL);
  if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  sigset_t waited, original_mask;
  sigfillset(&waited);
  for (int sig : kFaultSignals) sigdelset(&waited, sig);
  if (sigprocmask(SIG_BLOCK, &waited, &original_mask) != 0) {
    dprintf(STDERR_FILENO, "berth-init: block signals: %s\n", strerror(errno));
    return 1;
  }

  if (pause) return Pause(waited);

  pid_t child = fork();
  if (child < 0) {
    dprintf(STDERR_FILENO, "berth-init: fork: %s\n", strerror(errno));
    return 1;
  }
  if (child == 0) RunChild(argv + first, original_mask);
  setpgid(child, child);  // also here: a signal may come before the child's own call runs

  int child_status = 0;
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&waited, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      dprintf(STDERR_FILENO, "berth-init: sigwaitinfo: %s\n", strerror(errno));
      return 1;
    }
    if (sig == SIGCHLD) {
      // SIGCHLDs coalesce: one may stand for many exits, so reap until none is left.
      if (ReapExited(child, &child_status)) break;
      continue;
    }
    // The group is gone once the child's group leader has exited and nobody else is in it.
    if (!ForGroup(sig) || kill(-child, sig) != 0) kill(child, sig);
  }
  // Zombies the child left behind go now; whatever still runs is killed by the kernel when
  // PID 1 exits.
  int ignored;
  ReapExited(-1, &ignored);
  return ExitCodeOf(child_status);
}
