#include "agent/container_record.h"

#include "agent/message_file.h"

namespace berth::agent {

absl::Status SaveRecord(const std::string& path, const v1::Container& container, Durability durability) {
  return SaveMessage(path, container, durability);
}

absl::StatusOr<v1::Container> LoadRecord(const std::string& path) {
  v1::Container container;
  if (absl::Status st = LoadMessage(path, &container); !st.ok()) return st;
  return container;
}

}  // namespace berth::agent
