// Signals as ordinary events. InstallSignalRouter() blocks the interesting signals in the main
// thread before any other thread exists, so every thread (gRPC's included) inherits the mask,
// and one thread takes them with sigwait(). Handlers therefore run as normal code: they may lock,
// call the agent or write to a stream, which an async signal handler could not.
#pragma once

#include <functional>

namespace berth::cli {

// Call first in main(). Routes SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH.
void InstallSignalRouter();

// While alive, `handler` is offered each routed signal. It returns true when it dealt with the
// signal; false lets the default happen: for SIGWINCH nothing, for the others restore the
// terminal and die of the signal. Without a handler every signal takes the default.
// One handler at a time; the destructor waits for a running call to return.
class ScopedSignalHandler {
 public:
  explicit ScopedSignalHandler(std::function<bool(int signo)> handler);
  ~ScopedSignalHandler();
  ScopedSignalHandler(const ScopedSignalHandler&) = delete;
  ScopedSignalHandler& operator=(const ScopedSignalHandler&) = delete;
};

}  // namespace berth::cli
