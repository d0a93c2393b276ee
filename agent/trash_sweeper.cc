#include "agent/trash_sweeper.h"

#include <spdlog/spdlog.h>

#include "agent/logging.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

TrashSweeper::TrashSweeper()
    : queue_([](const std::string& path) {
        if (absl::Status st = RemoveTree(path); !st.ok()) {
          spdlog::warn("delete {} error=\"{}\" (start-up recovery tries again)", path, st.message());
        }
      }) {}

void TrashSweeper::Discard(std::string path) { queue_.Push(std::move(path)); }

}  // namespace berth::agent
