#include "runtime/cgroup/cgroup_stats.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace berth {

void AddBlkioV1(absl::string_view text, uint64_t& read, uint64_t& write) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t value = 0;
    if (f.size() != 3 || !absl::SimpleAtoi(f[2], &value)) continue;  // "Total N" has two fields
    if (f[1] == "Read") read += value;
    if (f[1] == "Write") write += value;
  }
}

IoTotals ParseIoStatV2(absl::string_view text) {
  IoTotals t;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
      uint64_t value = 0;
      if (!absl::SimpleAtoi(kv.second, &value)) continue;  // the device "8:0"
      if (kv.first == "rbytes") t.read_bytes += value;
      if (kv.first == "wbytes") t.write_bytes += value;
      if (kv.first == "rios") t.read_ops += value;
      if (kv.first == "wios") t.write_ops += value;
    }
  }
  return t;
}

uint64_t ParseCount(absl::string_view text) {
  uint64_t value = 0;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value) ? value : 0;
}

uint64_t ParseLimit(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  uint64_t value = 0;
  if (text == "max" || !absl::SimpleAtoi(text, &value) || value >= (uint64_t{1} << 62)) return 0;
  return value;
}

}  // namespace berth
