// The agent's durable record of one container: the berth.v1.Container message as JSON in
// <dir>/container.json, replaced atomically on every change of state.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

// `durability`: kDurable for the first record of a container (it must never be lost once
// Create returned); state changes are kProcessCrashSafe (after a host crash recovery
// reconciles them with what runs, which is nothing).
absl::Status SaveRecord(const std::string& path, const v1::Container& container,
                        Durability durability = Durability::kProcessCrashSafe);
absl::StatusOr<v1::Container> LoadRecord(const std::string& path);

}  // namespace berth::agent
