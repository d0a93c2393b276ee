// One thread that holds a kWait connection to every live shim and reports each container's
// exit (or its shim's disappearance) through a callback. Replaces a thread per container.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "runtime/base/unique_fd.h"
#include "runtime/shim/shim_messages.h"

namespace berth::agent {

class ExitWatcher {
 public:
  // Called on the watcher thread with the container id once its shim answered kWait (with
  // the shim's report) or closed the connection (no report: the shim is gone).
  using OnExit = std::function<void(const std::string& id, const std::optional<shim::ExitReport>& report)>;

  explicit ExitWatcher(OnExit on_exit);
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Takes a connection on which kWait (or kExec) was sent; `on_exit`, when given, is called
  // for it instead of the watcher's own.
  void Watch(const std::string& id, UniqueFd connection, OnExit on_exit = nullptr);

 private:
  void Run();

  OnExit on_exit_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: tells the thread to stop
  std::mutex mu_;
  struct Watched {
    std::string id;
    UniqueFd connection;
    OnExit on_exit;
  };
  std::map<int, Watched> watched_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace berth::agent
