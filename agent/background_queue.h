// Items (a directory to delete, a veth to remove) worked off one at a time on a thread of its
// own, for work that the caller that queues it need not wait for. The destructor finishes
// what is still queued, then ends the thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"

namespace berth::agent {

class BackgroundQueue {
 public:
  // `work` runs on the queue's thread, once per item, without the queue's lock.
  explicit BackgroundQueue(std::function<void(const std::string&)> work);
  ~BackgroundQueue();
  BackgroundQueue(const BackgroundQueue&) = delete;
  BackgroundQueue& operator=(const BackgroundQueue&) = delete;

  void Push(std::string item);

 private:
  void Run();

  const std::function<void(const std::string&)> work_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once everything above is made
};

}  // namespace berth::agent
