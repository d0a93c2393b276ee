// The agent's durable record of one container: the berth.v1.Container message as JSON in
// <dir>/container.json, replaced atomically on every change of state.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"

namespace berth::agent {

absl::Status SaveRecord(const std::string& path, const v1::Container& container);
absl::StatusOr<v1::Container> LoadRecord(const std::string& path);

}  // namespace berth::agent
