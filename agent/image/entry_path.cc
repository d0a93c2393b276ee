#include "agent/image/entry_path.h"

#include "absl/strings/str_split.h"

namespace berth::image {

EntryPath CleanEntryPath(absl::string_view name) {
  EntryPath out;
  for (absl::string_view part : absl::StrSplit(name, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (out.parts.empty()) {
        out.climbs_above_root = true;
      } else {
        out.parts.pop_back();
      }
      continue;
    }
    out.parts.emplace_back(part);
  }
  return out;
}

}  // namespace berth::image
