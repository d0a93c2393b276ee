#include "agent/background_queue.h"

namespace berth::agent {

BackgroundQueue::BackgroundQueue(std::function<void(const std::string&)> work)
    : work_(std::move(work)), thread_([this] { Run(); }) {}

BackgroundQueue::~BackgroundQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  thread_.join();
}

void BackgroundQueue::Push(std::string item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(item));
  }
  ready_.notify_one();
}

void BackgroundQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing is left
    std::string item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work_(item);
    lock.lock();
  }
}

}  // namespace berth::agent
