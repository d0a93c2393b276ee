// Copies the CLI's stdin into a running process (`run -i`, `exec -i`) on its own thread. At EOF
// it sends close_stdin, which half-closes only the process's stdin: the stream stays open for
// output, resizes and the exit code.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "cli/detach_keys.h"
#include "cli/stream_input.h"

namespace berth::cli {

class StdinPump {
 public:
  // Starts copying fd 0 into `sink`. With `detach_keys` (raw bytes), typing them calls
  // `on_detach` and ends the copying without closing the process's stdin.
  static absl::StatusOr<std::unique_ptr<StdinPump>> Start(InputSink& sink, std::string detach_keys = "",
                                                          std::function<void()> on_detach = nullptr);
  // Stops the pump (see Stop).
  ~StdinPump();
  StdinPump(const StdinPump&) = delete;
  StdinPump& operator=(const StdinPump&) = delete;

  // Wakes the thread if it waits for input and joins it. Input typed after this is left unread.
  void Stop();

 private:
  StdinPump(InputSink& sink, int wake_read, int wake_write)
      : sink_(sink), wake_read_(wake_read), wake_write_(wake_write) {}
  void Run();

  InputSink& sink_;
  std::optional<DetachKeys> detach_;
  std::function<void()> on_detach_;
  int wake_read_;
  int wake_write_;
  std::thread thread_;
};

}  // namespace berth::cli
