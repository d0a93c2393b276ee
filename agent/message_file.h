// A protobuf message kept in a file as JSON (proto field names; unknown fields of a newer
// agent ignored on reading), replaced atomically: the form of every record the agent keeps.
#pragma once

#include <string>

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

absl::Status SaveMessage(const std::string& path, const google::protobuf::Message& message, Durability durability,
                         bool indent = false);
// NOT_FOUND for a missing file; DATA_LOSS naming the path for one that does not parse.
absl::Status LoadMessage(const std::string& path, google::protobuf::Message* message);

}  // namespace berth::agent
