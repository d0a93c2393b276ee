#include "cli/log_prefixer.h"

#include "cli/human_format.h"

namespace berth::cli {

std::string TimestampPrefixer::Apply(berth::v1::Stream stream, std::string_view data,
                                     absl::Time time) {
  const int index = stream >= 0 && stream < 3 ? static_cast<int>(stream) : 0;
  bool& at_start = at_line_start_[index];
  const std::string prefix = FormatLogTimestamp(time) + " ";
  std::string out;
  out.reserve(data.size() + prefix.size());
  for (char c : data) {
    if (at_start) {
      out += prefix;
      at_start = false;
    }
    out += c;
    if (c == '\n') at_start = true;
  }
  return out;
}

}  // namespace berth::cli
