// The agent <-> berth-shim protocol: typed messages on a SOCK_SEQPACKET Unix socket
// (<state-dir>/shim.sock). One message = one packet: a type byte, then a payload (JSON for
// control messages, raw bytes for output), optionally with fds passed by SCM_RIGHTS.
//
// Requests (agent -> shim), each on its own connection:
//   kStart               -> kOk | kError
//   kExec   {process}    -> kExecStarted {pid} + fds, later kExit {exit_code}
//                           fds: [stdin writer if process.stdin, stdout reader, stderr reader],
//                           or with a terminal: [pty master] (stdin and output share it)
//   kAttach {stdin}      -> kAttached + [stdin writer or pty master] when stdin was asked for
//                           and the container has it (stdin is handed over once); then
//                           kStdout / kStderr frames of output from now on; last kExit
//   kWait                -> kExit {exit_code, oom_killed, finished_at} once the container exited
//   kState               -> kStateReply (the state.json document)
// kError carries {code: absl::StatusCode as int, message}.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::shim {

enum class MsgType : uint8_t {
  kStart = 1,
  kExec = 2,
  kAttach = 3,
  kWait = 4,
  kState = 5,

  kOk = 64,
  kError = 65,
  kExecStarted = 66,
  kAttached = 67,
  kStdout = 68,
  kStderr = 69,
  kExit = 70,
  kStateReply = 71,
};

inline constexpr size_t kMaxPayload = 64 * 1024;
inline constexpr int kMaxFds = 4;

struct Message {
  MsgType type{};
  std::string payload;
  std::vector<UniqueFd> fds;
};

// Blocking send of one packet. EPIPE/ECONNRESET become UNAVAILABLE.
absl::Status SendMessage(int sock, MsgType type, absl::string_view payload,
                         const std::vector<int>& fds = {});

// Blocking receive of one packet; a closed peer is UNAVAILABLE("shim connection closed").
absl::StatusOr<Message> ReceiveMessage(int sock);

// kError payload <-> absl::Status.
std::string EncodeError(const absl::Status& status);
absl::Status DecodeError(const std::string& payload);

// Connects to a shim socket (SOCK_SEQPACKET | SOCK_CLOEXEC).
absl::StatusOr<UniqueFd> ConnectShim(const std::string& socket_path);

// File names inside a container's state directory, shared by the agent and the shim.
inline constexpr char kShimSocketName[] = "shim.sock";
inline constexpr char kStateFileName[] = "state.json";

// state.json, written atomically by the shim on every transition.
struct ShimState {
  std::string id;
  int shim_pid = 0;
  uint64_t shim_start_time = 0;
  int pid = 0;  // container init, host pid namespace
  uint64_t pid_start_time = 0;
  std::string status;  // "created", "running", "exited"
  int exit_code = 0;
  bool oom_killed = false;
  int64_t created_at_ns = 0;  // unix time in nanoseconds; 0 = unset
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  std::string error;
};

std::string EncodeState(const ShimState& state);
absl::StatusOr<ShimState> DecodeState(const std::string& json);
absl::StatusOr<ShimState> ReadStateFile(const std::string& state_dir);
absl::Status WriteStateFile(const std::string& state_dir, const ShimState& state);

}  // namespace berth::shim
