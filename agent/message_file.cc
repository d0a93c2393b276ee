#include "agent/message_file.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace berth::agent {

absl::Status SaveMessage(const std::string& path, const google::protobuf::Message& message, Durability durability,
                         bool indent) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = indent;
  auto st = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!st.ok()) {
    return absl::InternalError(absl::StrCat("encode ", message.GetDescriptor()->name(), " record: ", st.ToString()));
  }
  return WriteFileAtomic(path, json, 0600, durability);
}

absl::Status LoadMessage(const std::string& path, google::protobuf::Message* message) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(*text, message, options);
  if (!st.ok()) return absl::DataLossError(absl::StrCat(path, ": ", st.ToString()));
  return absl::OkStatus();
}

}  // namespace berth::agent
