#include "runtime/lifecycle/container_record.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace berth::lifecycle {

using Json = nlohmann::ordered_json;

absl::string_view StatusName(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::kCreated: return "created";
    case ContainerStatus::kRunning: return "running";
    case ContainerStatus::kPaused: return "paused";
    case ContainerStatus::kStopped: return "stopped";
  }
  return "unknown";
}

std::string SerializeRecord(const ContainerRecord& r) {
  Json doc = {{"ociVersion", r.oci_version}, {"id", r.id},
              {"bundle", r.bundle},          {"rootfs", r.rootfs},
              {"pid", r.pid},                {"pidStartTime", r.pid_start_time},
              {"cgroupsPath", r.cgroups_path}, {"created", r.created},
              {"annotations", r.annotations}, {"started", r.started},
              {"paused", r.paused}};
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

absl::StatusOr<ContainerRecord> ParseRecord(absl::string_view json_text) {
  Json doc = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return absl::DataLossError("state.json is not a JSON object");
  try {
    ContainerRecord r;
    r.oci_version = doc.value("ociVersion", "");
    r.id = doc.at("id").get<std::string>();
    r.bundle = doc.value("bundle", "");
    r.rootfs = doc.value("rootfs", "");
    r.pid = doc.at("pid").get<pid_t>();
    r.pid_start_time = doc.value("pidStartTime", uint64_t{0});
    r.cgroups_path = doc.value("cgroupsPath", "");
    r.created = doc.value("created", "");
    r.annotations = doc.value("annotations", std::map<std::string, std::string>{});
    r.started = doc.value("started", false);
    r.paused = doc.value("paused", false);
    return r;
  } catch (const Json::exception& e) {
    return absl::DataLossError(absl::StrCat("state.json: ", e.what()));
  }
}

std::string StateJson(const ContainerRecord& r, ContainerStatus status, int indent) {
  Json doc = {{"ociVersion", r.oci_version.empty() ? "1.0.2" : r.oci_version},
              {"id", r.id},
              {"status", StatusName(status)}};
  // The spec: pid only while the container's process exists.
  if (status != ContainerStatus::kStopped) doc["pid"] = r.pid;
  doc["bundle"] = r.bundle;
  doc["rootfs"] = r.rootfs;
  doc["created"] = r.created;
  doc["annotations"] = r.annotations;
  return doc.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace berth::lifecycle
