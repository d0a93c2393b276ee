#include "agent/memory_release.h"

#include "runtime/base/idle_memory.h"

namespace berth::agent {

MemoryReleaseLoop::MemoryReleaseLoop(std::chrono::milliseconds first, std::chrono::milliseconds period)
    : thread_([this, first, period] { Run(first, period); }) {}

MemoryReleaseLoop::~MemoryReleaseLoop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void MemoryReleaseLoop::Run(std::chrono::milliseconds first, std::chrono::milliseconds period) {
  std::unique_lock<std::mutex> lock(mu_);
  for (std::chrono::milliseconds wait = first;; wait = period) {
    if (stop_cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    lock.unlock();
    ReleaseIdleMemory(IdleRelease::kBinaryAndLibraries);
    lock.lock();
  }
}

}  // namespace berth::agent
