#include "cli/json_output.h"

#include "absl/status/status.h"
#include "google/protobuf/util/json_util.h"

namespace berth::cli {

absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return absl::InternalError("cannot print " + message.GetTypeName() + " as JSON: " +
                               std::string(status.message()));
  }
  return out;
}

absl::StatusOr<std::string> MessagesToJsonArray(
    const std::vector<const google::protobuf::Message*>& messages) {
  std::string compact = "[";
  for (size_t i = 0; i < messages.size(); ++i) {
    absl::StatusOr<std::string> json = MessageToJson(*messages[i]);
    if (!json.ok()) return json.status();
    if (i > 0) compact += ',';
    compact += *json;
  }
  compact += ']';
  return PrettyJson(compact) + "\n";
}

std::string PrettyJson(std::string_view compact, int indent) {
  std::string out;
  out.reserve(compact.size() * 2);
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  auto newline = [&] {
    out += '\n';
    out.append(static_cast<size_t>(depth * indent), ' ');
  };
  for (size_t i = 0; i < compact.size(); ++i) {
    const char c = compact[i];
    if (in_string) {
      out += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        const char close = c == '{' ? '}' : ']';
        if (i + 1 < compact.size() && compact[i + 1] == close) {
          out += c;
          out += close;
          ++i;
        } else {
          out += c;
          ++depth;
          newline();
        }
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\n':
      case '\t':
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace berth::cli
