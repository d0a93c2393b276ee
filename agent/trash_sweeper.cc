#include "agent/trash_sweeper.h"

#include <spdlog/spdlog.h>

#include "agent/logging.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

TrashSweeper::TrashSweeper() : thread_([this] { Sweep(); }) {}

TrashSweeper::~TrashSweeper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void TrashSweeper::Discard(std::string path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(path));
  }
  work_.notify_one();
}

void TrashSweeper::Sweep() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing is left to delete
    std::string path = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (absl::Status st = RemoveTree(path); !st.ok()) {
      spdlog::warn("delete {} error=\"{}\" (start-up recovery tries again)", path, st.message());
    }
    lock.lock();
  }
}

}  // namespace berth::agent
