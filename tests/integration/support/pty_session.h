// A program (the CLI) on a pseudo terminal of its own, 80x24, session leader with the pty as
// its controlling terminal, driven like a person would: wait for output, type, finish.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace berth::testing {

class PtySession {
 public:
  explicit PtySession(const std::vector<std::string>& argv);
  ~PtySession();
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  bool ok() const { return pid_ > 0; }
  const std::string& output() const { return output_; }

  // Reads until `text` appears in the output after `from` (bounded); true when it did.
  bool ReadUntil(const std::string& text, size_t from = 0, std::chrono::seconds bound = std::chrono::seconds(15));
  void Type(const std::string& text);
  // Reads to the end of the session and reaps the program; its exit code, or -1 on timeout.
  int Finish(std::chrono::seconds bound = std::chrono::seconds(15));

 private:
  // One read with a poll of `timeout_ms`; false at EOF/EIO (every slave fd closed).
  bool ReadSome(int timeout_ms);

  int master_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string output_;
};

}  // namespace berth::testing
