// Parsers of the cgroup files that count use (shared by the v1 and v2 drivers' Stats).
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace berth {

struct IoTotals {
  uint64_t read_bytes = 0, write_bytes = 0, read_ops = 0, write_ops = 0;
};

// v1 blkio.throttle.io_service_bytes / io_serviced ("8:0 Read 4096" lines; the "Total" line
// is skipped): adds the Read and Write figures of every device to `read` and `write`.
void AddBlkioV1(absl::string_view text, uint64_t& read, uint64_t& write);

// v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"), every device summed.
IoTotals ParseIoStatV2(absl::string_view text);

// A one-number counter file (memory.failcnt); 0 when empty or unreadable.
uint64_t ParseCount(absl::string_view text);

// A limit file: "max" (v2) or a v1 "unlimited" value (2^62 and above) is 0, no limit.
uint64_t ParseLimit(absl::string_view text);

}  // namespace berth
