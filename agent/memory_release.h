// berthd's resident code pages given back while it idles (runtime/base/idle_memory.h): once
// shortly after start-up, whose code never runs again, then at a steady period. What the
// agent runs meanwhile faults back in from the page cache.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace berth::agent {

class MemoryReleaseLoop {
 public:
  MemoryReleaseLoop(std::chrono::milliseconds first, std::chrono::milliseconds period);
  ~MemoryReleaseLoop();  // stops the loop (waits for a release under way)
  MemoryReleaseLoop(const MemoryReleaseLoop&) = delete;
  MemoryReleaseLoop& operator=(const MemoryReleaseLoop&) = delete;

 private:
  void Run(std::chrono::milliseconds first, std::chrono::milliseconds period);

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::agent
