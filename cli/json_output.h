// JSON output for `inspect` and `ps -o json`: the protobuf JSON mapping with the proto field
// names (snake_case) and every field present, even at its default, so scripts can rely on keys.
// Indented by four spaces like docker inspect.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace berth::cli {

// One message, compact.
absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& message);

// A JSON array of the messages, indented, ending in '\n'.
absl::StatusOr<std::string> MessagesToJsonArray(
    const std::vector<const google::protobuf::Message*>& messages);

// Re-indents compact JSON (no whitespace outside strings) with `indent` spaces per level;
// empty objects and arrays stay "{}" and "[]".
std::string PrettyJson(std::string_view compact, int indent = 4);

}  // namespace berth::cli
