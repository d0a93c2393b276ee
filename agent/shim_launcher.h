// Starts each container's berth-shim, keeping one started ahead of time: a standby shim has
// already been exec'd (detached from the agent), has touched the memory a create needs, and
// waits on a socket for its container (shim_protocol.h, "Launch ahead of time"). A create
// then skips the shim's exec and start-up: about a tenth of a run-to-exit on a VM,
// where every page a new process touches is a fault of tens of microseconds.
//
// Standbys are forked by a zygote shim, started with the first launch: a fork of a process that
// has run the shim's start-up costs a fraction of an exec and a start-up. Each launch takes the
// standby, or has one forked at once when there is none (creates in parallel), and asks for the
// next one as it hands its launch over, forked on this class's thread while the container is
// set up. A zygote that died is noticed when it is asked for a fork (the send fails)
// and another is started; a standby that died is noticed when it is handed a launch, and the
// launch falls back to the direct way: an exec of the shim. Destroying the launcher closes the
// zygote's and the standby's sockets, and both exit.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "agent/shim_client.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

class ShimLauncher {
 public:
  // shim_path names the shim in messages and is executed unless exec_fd (a sealed copy) is >= 0.
  ShimLauncher(std::string shim_path, int exec_fd);
  ~ShimLauncher();
  ShimLauncher(const ShimLauncher&) = delete;
  ShimLauncher& operator=(const ShimLauncher&) = delete;

  // As LaunchShim(shim_path, exec_fd, launch, on_init), through the standby when there is one.
  absl::StatusOr<LaunchedShim> Launch(const ShimLaunch& launch,
                                      absl::FunctionRef<void(const LaunchedShim&)> on_init);

 private:
  // Hands the launch to a standby and reads its report; nullopt when the standby could not
  // take it (it died): the launch is then made directly.
  std::optional<absl::StatusOr<LaunchedShim>> HandOver(int standby, const ShimLaunch& launch,
                                                       absl::FunctionRef<void(const LaunchedShim&)> on_init);
  void RunStandbys();
  // Asks the zygote (started first if there is none) for a standby: our end of its socket.
  absl::StatusOr<UniqueFd> ForkStandby() ABSL_LOCKS_EXCLUDED(zygote_mu_);
  absl::StatusOr<UniqueFd> StartZygote();

  const std::string shim_path_;
  const int exec_fd_;

  std::mutex mu_;
  std::condition_variable cv_;
  UniqueFd standby_ ABSL_GUARDED_BY(mu_);  // the agent's end of the standby's socket
  bool wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::mutex zygote_mu_;
  UniqueFd zygote_ ABSL_GUARDED_BY(zygote_mu_);  // the agent's end of the zygote's socket
  std::thread thread_;
};

}  // namespace berth::agent
