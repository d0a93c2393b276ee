#include "runtime/base/quote.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth {

std::string Quoted(absl::string_view value, size_t limit) {
  absl::string_view shown = value.size() > limit ? value.substr(0, limit) : value;
  std::string out = "\"";
  for (unsigned char c : shown) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  if (shown.size() < value.size()) absl::StrAppend(&out, "... (", value.size(), " bytes)");
  return out;
}

}  // namespace berth
