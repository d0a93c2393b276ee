// The agent <-> berth-shim protocol: typed messages on a SOCK_SEQPACKET Unix socket
// (<state-dir>/shim.sock). One message = one packet: a type byte, then a payload (a struct of
// shim_messages.h for control messages, raw bytes for output), optionally with fds passed by
// SCM_RIGHTS.
//
// Requests (agent -> shim), each on its own connection:
//   kStart               -> kStarted (Started) | kError
//   kExec   (ExecRequest)
//                        -> kExecStarted (ExecStarted: the process pid) + fds, later kExit
//                           (ExitReport, exit_code only)
//                           fds: [stdin writer if asked for, stdout reader, stderr reader],
//                           or with process.terminal: [pty master] (stdin and output share it;
//                           the pty is the container's own, opened in its /dev/pts)
//                           The exec's output goes only to these fds, not to the CRI log.
//                           kError FAILED_PRECONDITION when the container is not running.
//   kAttach (AttachRequest)
//                        -> kAttached (Attached) + [stdin writer or pty master] when
//                           stdin was asked for and the container has it (a stdin pipe is handed
//                           over once: the first attacher's close is the container's EOF; a pty
//                           master is duplicated for every attacher); then kStdout / kStderr
//                           frames (raw bytes, <= 32 KiB) of output from now on; last kExit.
//                           A client that does not keep up (full socket buffer) misses output,
//                           never the log nor the container: what it missed is counted and
//                           reported to it as kDropped (Dropped) once it can take frames again.
//   kWait                -> kExit (ExitReport) once the container exited
//   kState               -> kStateReply (ShimState, as in state.json)
//   kKill   (KillRequest)-> kOk: the signal to init (or every process); SIGKILL and SIGTERM
//                           thaw a paused container so that it can act on them
//   kPause, kResume      -> kOk: the cgroup frozen / thawed (FAILED_PRECONDITION unless
//                           running / paused)
//   kProcesses           -> kProcessList (ProcessList): the pids in the container's cgroup
//   kReopenLog           -> kOk once the log file is open again at its path (after whoever
//                           named it renamed it: the kubelet's own rotation)
//   kUpdate (ResourceLimits)
//                        -> kOk once written to the cgroup (FAILED_PRECONDITION once exited)
// kError carries {"code": absl::StatusCode as int, "message"}.
// The container's kExit (wait, attach) is sent only after state.json says "exited"; then the
// shim closes every connection, removes shim.sock and exits. A terminal is resized by the agent
// itself: TIOCSWINSZ on the pty master it was given. Passed pty masters share the shim's file
// status flags: do not set O_NONBLOCK on them.
//
// Launch: `berth-shim [--detached] --id ID --bundle DIR --state-dir DIR --log FILE [--stdin]`
// with fd kShimReportFd = the write end of a pipe. Without --detached, the started process
// forks once and exits 0 at once (reap it), so that the shim proper is not the starter's
// child; with it, the starter has seen to that already (runtime/base/detached_spawn.h: the
// agent starts it so) and the shim does not fork. The shim (a new session) writes "pid <container pid>
// <its start time>\n" as soon as init exists and is in its cgroup (the agent may work on its
// namespaces meanwhile, e.g. connect its network), then one final line and closes the pipe:
// "ok <container pid> <its start time>\n" once the container waits at its start gate,
// state.json says "created" and shim.sock listens, or "error <absl::StatusCode as int>
// <message>\n" after removing everything it made (then it exits 1). EOF without a final line:
// the shim died. Read up to the final line, not to EOF: until the container's process execs, it
// too holds the pipe. A shim whose "ok" line finds no reader (the agent died or gave up)
// removes everything and exits 1.
// Launch ahead of time: `berth-shim [--detached] --standby` with fd kShimReportFd = one end of
// a SOCK_SEQPACKET socket pair detaches the same way, then waits on that socket for one
// kLaunch packet: the arguments above (without --preserve-fds), each ending in a NUL, and the
// fds to preserve, which the shim places at 4, 5, ... The report line comes back on the same
// socket. The socket closing before a kLaunch (the agent is gone) ends the shim quietly.
// kStandbyArgumentRoom empty arguments after --standby make room for the launch's arguments in
// /proc/<pid>/cmdline.
// Zygote: `berth-shim [--detached] --zygote` with fd kShimReportFd = one end of a SOCK_SEQPACKET
// socket pair detaches the same way, then forks one standby for each kFork packet on that
// socket, which carries one fd and no payload: the standby's end of its own socket pair. The
// standby (its parent is the zygote; a session of its own; "--standby" where the zygote shows
// "--zygote") then waits for its kLaunch as above. A fork that failed closes that fd. The zygote
// exits when the socket closes; nothing is ever sent back on it but an error before it exits.
// kStandbyArgumentRoom empty arguments after --zygote leave the standbys room as above.
// Stop: SIGTERM (or SIGINT) to shim_pid SIGKILLs the container and takes the normal exit path
// (state.json "exited", cgroup and shim.sock removed). Never SIGKILL the shim: that leaves the
// cgroup behind.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/shim/shim_messages.h"

namespace berth::shim {

enum class MsgType : uint8_t {
  kStart = 1,
  kExec = 2,
  kAttach = 3,
  kWait = 4,
  kState = 5,
  kKill = 6,
  kPause = 7,
  kResume = 8,
  kUpdate = 9,
  kProcesses = 10,
  kReopenLog = 11,
  kLaunch = 12,  // to a standby shim, on its fd 3 (see Launch above)
  kFork = 13,    // to the zygote, on its fd 3 (see Zygote above)

  kOk = 64,
  kError = 65,
  kExecStarted = 66,
  kAttached = 67,
  kStdout = 68,
  kStderr = 69,
  kExit = 70,
  kStateReply = 71,
  kDropped = 72,
  kStarted = 73,
  kProcessList = 74,
};

inline constexpr size_t kMaxPayload = 64 * 1024;
inline constexpr int kMaxFds = 16;  // a launch's namespaces; an exec's stdio

struct Message {
  MsgType type{};
  std::string payload;
  std::vector<UniqueFd> fds;
};

// Sends one packet (MSG_NOSIGNAL). EPIPE/ECONNRESET become UNAVAILABLE; on a non-blocking
// socket a full buffer is RESOURCE_EXHAUSTED. More than kMaxPayload bytes or kMaxFds fds is
// INVALID_ARGUMENT.
absl::Status SendMessage(int sock, MsgType type, absl::string_view payload,
                         const std::vector<int>& fds = {});

// Receives one packet; received fds are O_CLOEXEC. A closed peer is
// UNAVAILABLE("shim connection closed"); on a non-blocking socket nothing pending is
// RESOURCE_EXHAUSTED.
absl::StatusOr<Message> ReceiveMessage(int sock);

// Connects to a shim socket (SOCK_SEQPACKET | SOCK_CLOEXEC). A path longer than sun_path is
// reached through /proc/self/fd/<dir fd>/ (the shim binds the same way). No socket file is
// NOT_FOUND; a socket nobody listens on (a dead shim) is UNAVAILABLE.
absl::StatusOr<UniqueFd> ConnectShim(const std::string& socket_path);

// File names inside a container's state directory, shared by the agent and the shim.
inline constexpr char kShimSocketName[] = "shim.sock";
inline constexpr char kStateFileName[] = "state.json";
inline constexpr int kShimReportFd = 3;
inline constexpr std::string_view kDetachedArgument = "--detached";
inline constexpr int kStandbyArgumentRoom = 1024;

// SIGKILLs a shim that cannot be asked to stop (found by pid and start time in its state):
// what its container leaves is for lifecycle::DestroyContainer.
absl::Status EndShim(const ShimState& state);

// NOT_FOUND when the shim never wrote one.
absl::StatusOr<ShimState> ReadStateFile(const std::string& state_dir);
absl::Status WriteStateFile(const std::string& state_dir, const ShimState& state);

}  // namespace berth::shim
