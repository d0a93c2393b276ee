#include "agent/container_record.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

absl::Status SaveRecord(const std::string& path, const v1::Container& container, Durability durability) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(container, &json, options);
  if (!st.ok()) return absl::InternalError(absl::StrCat("encode container record: ", st.ToString()));
  return WriteFileAtomic(path, json, 0600, durability);
}

absl::StatusOr<v1::Container> LoadRecord(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  v1::Container container;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(*text, &container, options);
  if (!st.ok()) return absl::DataLossError(absl::StrCat(path, ": ", st.ToString()));
  return container;
}

}  // namespace berth::agent
