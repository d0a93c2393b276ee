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

// A container's first record is made durable while its shim still sets the container up (the
// fsyncs cost about as much as the rest of a create's own work), under a name that says "not
// reported yet, in boot <boot_id>"; the rename to container.json, once the container exists,
// is the create's commit and needs no fsync of its own:
//  - an agent that died before the rename left a pending record of this boot: its create was
//    never reported, and its shim undoes the container when the agent goes, so recovery
//    undoes the rest (as for a directory with no record at all);
//  - a node that went down may have lost the rename but not the durable pending record, of an
//    earlier boot then: recovery keeps it, as a container that no longer runs.
std::string PendingRecordPath(const std::string& record_path, const std::string& boot_id);
absl::Status SavePendingRecord(const std::string& pending_path, const v1::Container& container);
absl::Status CommitPendingRecord(const std::string& pending_path, const std::string& record_path);
// For recovery, when `record_path` is missing: the pending record of an earlier boot than
// `boot_id` that reads whole, renamed to `record_path` (true); false when there is none, or
// only one of this boot.
bool AdoptPendingRecordOfEarlierBoot(const std::string& record_path, const std::string& boot_id);

}  // namespace berth::agent
