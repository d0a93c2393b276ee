#include "agent/shim_launcher.h"

#include <sys/socket.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/shim/shim_protocol.h"
#include "spdlog/spdlog.h"

namespace berth::agent {

ShimLauncher::ShimLauncher(std::string shim_path, int exec_fd)
    : shim_path_(std::move(shim_path)), exec_fd_(exec_fd) {
  thread_ = std::thread([this] { RunStandbys(); });
}

ShimLauncher::~ShimLauncher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // standby_ closes with this object: the standby sees EOF and exits.
}

std::optional<absl::StatusOr<LaunchedShim>> ShimLauncher::HandOver(
    int standby, const ShimLaunch& launch, absl::FunctionRef<void(const LaunchedShim&)> on_init) {
  std::string payload;
  for (const std::string& arg : ShimArguments(launch)) absl::StrAppend(&payload, arg, std::string(1, '\0'));
  absl::Status sent = shim::SendMessage(standby, shim::MsgType::kLaunch, payload, launch.inherit_fds);
  if (!sent.ok()) {
    spdlog::debug("standby berth-shim unusable ({}); starting one directly", std::string(sent.message()));
    return std::nullopt;
  }
  // A standby that failed on its own has exited and closed its socket: the send above failed.
  return ReadShimReport(standby, on_init);
}

absl::StatusOr<LaunchedShim> ShimLauncher::Launch(const ShimLaunch& launch,
                                                  absl::FunctionRef<void(const LaunchedShim&)> on_init) {
  UniqueFd standby;
  {
    std::lock_guard<std::mutex> lock(mu_);
    standby = std::move(standby_);
  }
  if (!standby) {
    // Creates in parallel take the standby faster than one is made: a fork of the zygote, then,
    // where an exec and start-up of a new shim would be.
    absl::StatusOr<UniqueFd> forked = ForkStandby();
    if (forked.ok()) standby = *std::move(forked);
  }
  // The next standby is forked while this container is set up: the create mostly waits
  // then (on init's set-up, on the record's fsync), and a standby forked once the container
  // existed competed with its start and run for the two CPUs of the VM we measure on
  // (docs/performance.md has the measurement).
  {
    std::lock_guard<std::mutex> lock(mu_);
    wanted_ = true;
  }
  cv_.notify_all();
  std::optional<absl::StatusOr<LaunchedShim>> launched;
  if (standby) launched = HandOver(standby.get(), launch, on_init);
  if (!launched) launched = LaunchShim(shim_path_, exec_fd_, launch, on_init);
  return *std::move(launched);
}

namespace {

// The two ends of a shim's socket pair: the agent's, then the shim's.
absl::StatusOr<std::pair<UniqueFd, UniqueFd>> ShimSocketPair(absl::string_view whose) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return ErrnoToStatus(absl::StrCat("socket pair for ", whose));
  }
  return std::make_pair(UniqueFd(pair[0]), UniqueFd(pair[1]));
}

}  // namespace

absl::StatusOr<UniqueFd> ShimLauncher::StartZygote() {
  ASSIGN_OR_RETURN(auto sockets, ShimSocketPair("the berth-shim zygote"));
  auto& [ours, theirs] = sockets;
  std::vector<std::string> arguments = {"--zygote"};
  arguments.resize(1 + shim::kStandbyArgumentRoom);  // its standbys' room for a launch's arguments in ps
  RETURN_IF_ERROR(SpawnShim(shim_path_, exec_fd_, arguments, theirs.get(), {}));
  return std::move(ours);
}

absl::StatusOr<UniqueFd> ShimLauncher::ForkStandby() {
  ASSIGN_OR_RETURN(auto sockets, ShimSocketPair("a standby shim"));
  auto& [ours, theirs] = sockets;
  // A zygote that died (killed, say) fails the send at once: a new one is started and asked.
  // One that dies after taking the request closes the standby's socket with it, and the
  // handover to that standby fails instead.
  std::lock_guard<std::mutex> lock(zygote_mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!zygote_) {
      absl::StatusOr<UniqueFd> zygote = StartZygote();
      if (!zygote.ok()) return zygote.status();
      zygote_ = *std::move(zygote);
    }
    absl::Status sent = shim::SendMessage(zygote_.get(), shim::MsgType::kFork, "", {theirs.get()});
    if (sent.ok()) return std::move(ours);
    spdlog::debug("berth-shim zygote unusable ({}); starting another", std::string(sent.message()));
    zygote_.Reset();
  }
  return absl::UnavailableError("a berth-shim zygote ended as soon as it was started");
}

void ShimLauncher::RunStandbys() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || (wanted_ && !standby_); });
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    absl::StatusOr<UniqueFd> started = ForkStandby();
    lock.lock();
    if (!started.ok()) {
      // Launches go the direct way until the next one asks again.
      spdlog::warn("could not start a standby berth-shim: {}", std::string(started.status().message()));
      continue;
    }
    if (!stopping_ && !standby_) standby_ = std::move(*started);
  }
}

}  // namespace berth::agent
