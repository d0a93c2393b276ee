// What turns a prepared child into the user's process: signals back to defaults, stdio or
// a controlling terminal, rlimits (lowered only), groups and ids, capabilities,
// no_new_privs, the working directory, and an execvpe-like exec that searches the
// container's own PATH. Shared by a container's init and by exec'd processes; each step
// plans and applies through process_plan.h, whose appliers a child that cannot allocate
// runs directly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/container/container.h"
#include "runtime/container/process_plan.h"
#include "runtime/spec/spec.h"

namespace berth::seccomp {
struct Program;
}

namespace berth::container_internal {

// Every signal to SIG_DFL and an empty signal mask (the shim blocks signals for signalfd).
void ResetSignals();

// fds 0/1/2: with `terminal` (process.terminal and stdio.terminal >= 0) a new session whose
// controlling terminal is stdio.terminal (window size set when given); else the three fds,
// -1 meaning `devnull_fd`.
absl::Status SetupStdio(const ContainerStdio& stdio, bool terminal,
                        const std::optional<spec::ConsoleSize>& console_size, int devnull_fd);

absl::Status ApplyRlimits(const std::vector<spec::Rlimit>& rlimits);

// chdir to `cwd`, creating it first when `create` (Docker creates a missing WORKDIR). The
// result must be inside the process's root: a working directory reached through an fd of the
// node's (the CVE-2024-21626 class) shows as unreachable and is refused.
absl::Status ChangeDirectory(const std::string& cwd, bool create);

// /proc/self/oom_score_adj.
absl::Status SetOomScoreAdj(int value);

// Groups, gid, uid and capabilities, in the order the kernel needs: bounding set dropped
// while still root, ids changed keeping permitted capabilities, then effective/permitted/
// inheritable and ambient sets. Without `capabilities` the kernel's defaults apply.
absl::Status SwitchUserAndCapabilities(const spec::User& user,
                                       const std::optional<spec::Capabilities>& capabilities);

absl::Status SetNoNewPrivileges();

// With process.no_new_privileges the filter is loaded last, by ExecProcess. Without it the
// kernel lets only CAP_SYS_ADMIN load a filter, so it is loaded here, before the capability
// switch; ExecProcess then gets none.
absl::Status LoadSeccompEarlyUnlessNoNewPrivs(const spec::Process& process, const seccomp::Program* seccomp);

// Marks every fd >= 3 close-on-exec, loads `seccomp` (when given) as the very last step, and
// execs process.args with process.env, looking args[0] up on the env's PATH when it has no
// '/'. Returns only on failure ("exec <name>: No such file or directory" is NOT_FOUND).
// Only 0-2 and fds 3 .. 3+preserve_fds-1 (their close-on-exec flag cleared) survive the
// next execve; every other fd is marked close-on-exec.
absl::Status MarkFdsCloseOnExec(int preserve_fds);

// `fds_marked`: MarkFdsCloseOnExec was called already (before a seccomp filter that may
// refuse close_range); otherwise it is called here.
absl::Status ExecProcess(const spec::Process& process, const seccomp::Program* seccomp = nullptr,
                         int preserve_fds = 0, bool fds_marked = false);

}  // namespace berth::container_internal
