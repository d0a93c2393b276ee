#include "runtime/shim/shim_messages.h"

#include <nlohmann/json.hpp>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth::shim {

namespace {

using nlohmann::json;

// Parses a payload that must be a JSON object; empty means {}.
absl::StatusOr<json> Object(absl::string_view payload, const char* message) {
  if (payload.empty()) return json::object();
  json j = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(message, ": not a JSON object"));
  }
  return j;
}

// Reads an optional field of the expected JSON type into `out`; a present field of the wrong
// type is an error naming it.
template <typename T>
absl::Status Field(const json& j, const char* message, const char* name, T& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  bool ok;
  if constexpr (std::is_same_v<T, bool>) {
    ok = it->is_boolean();
  } else if constexpr (std::is_same_v<T, std::string>) {
    ok = it->is_string();
  } else if constexpr (std::is_unsigned_v<T>) {
    ok = it->is_number_unsigned();
  } else {
    ok = it->is_number_integer();
  }
  if (!ok) return absl::InvalidArgumentError(absl::StrCat(message, ": field ", name, " has the wrong type"));
  out = it->get<T>();
  return absl::OkStatus();
}

}  // namespace

// The process object is config.json's: written and read the one way the runtime does specs.
std::string Encode(const ExecRequest& m) {
  spec::Spec wrapper;
  wrapper.oci_version = "1.0.2";
  wrapper.root.path = "rootfs";
  wrapper.process = m.process;
  json j;
  j["process"] = json::parse(spec::SerializeSpec(wrapper))["process"];
  j["stdin"] = m.stdin;
  return j.dump();
}

template <>
absl::StatusOr<ExecRequest> Decode<ExecRequest>(absl::string_view payload) {
  constexpr char kName[] = "exec request";
  ASSIGN_OR_RETURN(json j, Object(payload, kName));
  auto process = j.find("process");
  if (process == j.end() || !process->is_object()) {
    return absl::InvalidArgumentError("exec request: process must be an object");
  }
  ExecRequest req;
  RETURN_IF_ERROR(Field(j, kName, "stdin", req.stdin));
  json wrapper;
  wrapper["ociVersion"] = "1.0.2";
  wrapper["root"] = {{"path", "rootfs"}};
  wrapper["process"] = *process;
  absl::StatusOr<spec::Spec> spec = spec::ParseSpec(wrapper.dump());
  if (!spec.ok()) return Annotate(spec.status(), kName);
  req.process = std::move(spec->process);
  if (req.process.args.empty()) return absl::InvalidArgumentError("exec request: process.args is empty");
  if (req.process.cwd.empty() || req.process.cwd[0] != '/') {
    return absl::InvalidArgumentError("exec request: process.cwd must be absolute");
  }
  return req;
}

std::string Encode(const ExecStarted& m) { return json{{"pid", m.pid}}.dump(); }

template <>
absl::StatusOr<ExecStarted> Decode<ExecStarted>(absl::string_view payload) {
  ASSIGN_OR_RETURN(json j, Object(payload, "exec started"));
  ExecStarted m;
  RETURN_IF_ERROR(Field(j, "exec started", "pid", m.pid));
  return m;
}

std::string Encode(const AttachRequest& m) { return json{{"stdin", m.stdin}}.dump(); }

template <>
absl::StatusOr<AttachRequest> Decode<AttachRequest>(absl::string_view payload) {
  ASSIGN_OR_RETURN(json j, Object(payload, "attach request"));
  AttachRequest m;
  RETURN_IF_ERROR(Field(j, "attach request", "stdin", m.stdin));
  return m;
}

std::string Encode(const Attached& m) { return json{{"stdin", m.stdin}}.dump(); }

template <>
absl::StatusOr<Attached> Decode<Attached>(absl::string_view payload) {
  ASSIGN_OR_RETURN(json j, Object(payload, "attached"));
  Attached m;
  RETURN_IF_ERROR(Field(j, "attached", "stdin", m.stdin));
  return m;
}

std::string Encode(const Dropped& m) { return json{{"bytes", m.bytes}}.dump(); }

template <>
absl::StatusOr<Dropped> Decode<Dropped>(absl::string_view payload) {
  ASSIGN_OR_RETURN(json j, Object(payload, "dropped"));
  Dropped m;
  RETURN_IF_ERROR(Field(j, "dropped", "bytes", m.bytes));
  return m;
}

std::string Encode(const Started& m) { return json{{"started_at_ns", m.started_at_ns}}.dump(); }

template <>
absl::StatusOr<Started> Decode<Started>(absl::string_view payload) {
  ASSIGN_OR_RETURN(json j, Object(payload, "started"));
  Started m;
  RETURN_IF_ERROR(Field(j, "started", "started_at_ns", m.started_at_ns));
  return m;
}

std::string Encode(const KillRequest& m) {
  json j{{"signal", m.signal}, {"all", m.all}};
  if (m.exec_pid != 0) j["exec_pid"] = m.exec_pid;
  return j.dump();
}

template <>
absl::StatusOr<KillRequest> Decode<KillRequest>(absl::string_view payload) {
  constexpr char kName[] = "kill request";
  ASSIGN_OR_RETURN(json j, Object(payload, kName));
  KillRequest m;
  RETURN_IF_ERROR(Field(j, kName, "signal", m.signal));
  RETURN_IF_ERROR(Field(j, kName, "all", m.all));
  RETURN_IF_ERROR(Field(j, kName, "exec_pid", m.exec_pid));
  if (m.signal < 1 || m.signal > 64) {
    return absl::InvalidArgumentError(absl::StrCat("kill request: signal ", m.signal, " is not 1..64"));
  }
  return m;
}

std::string Encode(const ResourceLimits& m) {
  return json{{"memory_limit_bytes", m.memory_limit_bytes}, {"cpu_quota_us", m.cpu_quota_us},
              {"cpu_period_us", m.cpu_period_us}, {"cpu_shares", m.cpu_shares}, {"pids_limit", m.pids_limit}}
      .dump();
}

template <>
absl::StatusOr<ResourceLimits> Decode<ResourceLimits>(absl::string_view payload) {
  constexpr char kName[] = "update request";
  ASSIGN_OR_RETURN(json j, Object(payload, kName));
  ResourceLimits m;
  for (absl::Status st : {Field(j, kName, "memory_limit_bytes", m.memory_limit_bytes),
                          Field(j, kName, "cpu_quota_us", m.cpu_quota_us), Field(j, kName, "cpu_period_us", m.cpu_period_us),
                          Field(j, kName, "cpu_shares", m.cpu_shares), Field(j, kName, "pids_limit", m.pids_limit)}) {
    RETURN_IF_ERROR(st);
  }
  if (m.memory_limit_bytes < 0 || m.cpu_quota_us < 0 || m.pids_limit < 0) {
    return absl::InvalidArgumentError("update request: limits must not be negative");
  }
  return m;
}

std::string Encode(const ProcessList& m) { return json{{"pids", m.pids}}.dump(); }

template <>
absl::StatusOr<ProcessList> Decode<ProcessList>(absl::string_view payload) {
  ASSIGN_OR_RETURN(json j, Object(payload, "process list"));
  ProcessList m;
  auto pids = j.find("pids");
  if (pids == j.end()) return m;
  if (!pids->is_array()) return absl::InvalidArgumentError("process list: field pids has the wrong type");
  for (const json& pid : *pids) {
    if (!pid.is_number_integer()) return absl::InvalidArgumentError("process list: a pid is not an integer");
    m.pids.push_back(pid.get<int>());
  }
  return m;
}

std::string Encode(const ExitReport& m) {
  json j{{"exit_code", m.exit_code},
         {"oom_killed", m.oom_killed},
         {"started_at_ns", m.started_at_ns},
         {"finished_at_ns", m.finished_at_ns}};
  if (!m.error.empty()) j["error"] = m.error;
  if (m.cgroup_removed) j["cgroup_removed"] = true;
  return j.dump();
}

template <>
absl::StatusOr<ExitReport> Decode<ExitReport>(absl::string_view payload) {
  constexpr char kName[] = "exit report";
  ASSIGN_OR_RETURN(json j, Object(payload, kName));
  ExitReport m;
  for (absl::Status st : {Field(j, kName, "exit_code", m.exit_code), Field(j, kName, "oom_killed", m.oom_killed),
                          Field(j, kName, "started_at_ns", m.started_at_ns),
                          Field(j, kName, "finished_at_ns", m.finished_at_ns), Field(j, kName, "error", m.error),
                          Field(j, kName, "cgroup_removed", m.cgroup_removed)}) {
    RETURN_IF_ERROR(st);
  }
  return m;
}

std::string Encode(const ShimState& state) {
  json j;
  j["id"] = state.id;
  j["status"] = state.status;
  j["shim_pid"] = state.shim_pid;
  j["shim_start_time"] = state.shim_start_time;
  j["pid"] = state.pid;
  j["pid_start_time"] = state.pid_start_time;
  j["exit_code"] = state.exit_code;
  j["oom_killed"] = state.oom_killed;
  j["created_at_ns"] = state.created_at_ns;
  j["started_at_ns"] = state.started_at_ns;
  j["finished_at_ns"] = state.finished_at_ns;
  if (!state.error.empty()) j["error"] = state.error;
  return j.dump();
}

template <>
absl::StatusOr<ShimState> Decode<ShimState>(absl::string_view payload) {
  constexpr char kName[] = "state.json";
  if (payload.empty()) return absl::InvalidArgumentError("state.json: not a JSON object");
  ASSIGN_OR_RETURN(json j, Object(payload, kName));
  ShimState s;
  for (absl::Status st :
       {Field(j, kName, "id", s.id), Field(j, kName, "status", s.status), Field(j, kName, "shim_pid", s.shim_pid),
        Field(j, kName, "shim_start_time", s.shim_start_time), Field(j, kName, "pid", s.pid),
        Field(j, kName, "pid_start_time", s.pid_start_time), Field(j, kName, "exit_code", s.exit_code),
        Field(j, kName, "oom_killed", s.oom_killed), Field(j, kName, "created_at_ns", s.created_at_ns),
        Field(j, kName, "started_at_ns", s.started_at_ns), Field(j, kName, "finished_at_ns", s.finished_at_ns),
        Field(j, kName, "error", s.error)}) {
    RETURN_IF_ERROR(st);
  }
  return s;
}

std::string EncodeError(const absl::Status& status) {
  json j;
  j["code"] = static_cast<int>(status.code());
  j["message"] = std::string(status.message());
  return j.dump();
}

absl::Status DecodeError(const std::string& payload) {
  json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("code") || !j["code"].is_number_integer()) {
    return absl::UnknownError(absl::StrCat("malformed shim error: ", payload.substr(0, 200)));
  }
  int code = j["code"].get<int>();
  std::string message;
  if (j.contains("message") && j["message"].is_string()) message = j["message"].get<std::string>();
  // An error message never means success; codes outside absl's range are UNKNOWN.
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(message);
  }
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

}  // namespace berth::shim
