// `logs -t`: puts the chunk's time in front of every line. Chunks need not end on a line
// boundary, so the prefixer remembers, per stream, whether the next byte starts a line.
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "berth/v1/containers.pb.h"

namespace berth::cli {

class TimestampPrefixer {
 public:
  std::string Apply(berth::v1::Stream stream, std::string_view data, absl::Time time);

 private:
  bool at_line_start_[3] = {true, true, true};  // indexed by berth::v1::Stream
};

}  // namespace berth::cli
