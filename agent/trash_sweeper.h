// Deletes directories that were renamed out of the way (a removed container's
// `containers/.trash-<id>`) on a thread of its own. A Remove is done once the rename has taken
// the container out of the agent's view; the unlinks of its bundle, record and rootfs
// directories (milliseconds on ext4, each directory's unlink the dearest) need not hold up the
// caller, nor `berth run --rm`, whose exit code waits for the Remove. A crash leaves the trash
// directory, which start-up recovery deletes.
#pragma once

#include <string>

#include "agent/background_queue.h"

namespace berth::agent {

class TrashSweeper {
 public:
  // The destructor deletes what is still queued, then ends the thread.
  TrashSweeper();

  // Queues `path` (a directory tree nobody else uses any more) for deletion.
  void Discard(std::string path);

 private:
  BackgroundQueue queue_;
};

}  // namespace berth::agent
