// `berth volume create|ls|inspect|rm|prune`: named volumes (berth.v1.Volumes). As with the
// other object verbs, inspect and rm try every name, report the failures and exit 125 if any.
#include <algorithm>
#include <iostream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/container_flags.h"
#include "cli/exit_codes.h"
#include "cli/flag_definitions.h"
#include "cli/human_format.h"
#include "cli/json_output.h"
#include "cli/list_format.h"
#include "cli/table.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct CreateOptions {
  std::string name;
  std::string driver;
  std::vector<std::string> labels;
};

int Create(AgentClient& client, const CreateOptions& o) {
  v1::CreateVolumeRequest request;
  request.set_name(o.name);
  request.set_driver(o.driver);
  absl::StatusOr<std::map<std::string, std::string>> labels = ParseLabels(o.labels);
  if (!labels.ok()) return ReportError(labels.status());
  request.mutable_labels()->insert(labels->begin(), labels->end());
  v1::CreateVolumeResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.volumes().Create(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::cout << response.volume().name() << std::endl;
  return kExitOk;
}

// --filter dangling=true|false, label=k[=v], name=SUBSTRING (Docker's keys).
struct VolumeFilters {
  std::vector<std::string> labels;
  std::optional<bool> dangling;
  std::vector<std::string> names;
};

absl::StatusOr<VolumeFilters> ParseVolumeFilters(const std::vector<std::string>& filters) {
  VolumeFilters out;
  for (const std::string& f : filters) {
    const size_t eq = f.find('=');
    const std::string key = f.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : f.substr(eq + 1);
    if (key == "label" && !value.empty()) {
      out.labels.push_back(value);
    } else if (key == "dangling" && (value == "true" || value == "1" || value == "false" || value == "0")) {
      out.dangling = value == "true" || value == "1";
    } else if (key == "name" && !value.empty()) {
      out.names.push_back(value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--filter ", Quote(f), ": want dangling=true|false, label=KEY[=VALUE] or name=TEXT"));
    }
  }
  return out;
}

struct LsOptions {
  bool quiet = false;
  std::vector<std::string> filters;
  std::string format;
};

// A row of `volume ls --format` with docker's field names.
nlohmann::json VolumeRowView(const v1::Volume& v) {
  std::vector<std::string> labels;
  for (const auto& [k, value] : v.labels()) labels.push_back(k + "=" + value);
  std::sort(labels.begin(), labels.end());
  return nlohmann::json{{"Name", v.name()},     {"Driver", v.driver()},  {"Mountpoint", v.mountpoint()},
                        {"Scope", "local"},      {"Labels", absl::StrJoin(labels, ",")},
                        {"Anonymous", v.anonymous()}, {"Links", v.used_by_size()}};
}

int List(AgentClient& client, const LsOptions& o) {
  absl::StatusOr<VolumeFilters> filters = ParseVolumeFilters(o.filters);
  if (!filters.ok()) return ReportError(filters.status());
  absl::StatusOr<ListFormat> format = ParseListFormat(o.format);
  if (!format.ok()) return ReportError(format.status());
  v1::ListVolumesRequest request;
  request.set_label_selector(absl::StrJoin(filters->labels, ","));
  if (filters->dangling) request.set_dangling(*filters->dangling);
  v1::ListVolumesResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.volumes().List(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::vector<const v1::Volume*> shown;
  for (const v1::Volume& v : response.volumes()) {
    const bool named = std::all_of(filters->names.begin(), filters->names.end(),
                                   [&](const std::string& n) { return absl::StrContains(v.name(), n); });
    if (named) shown.push_back(&v);
  }
  if (!o.quiet && format->kind == ListFormat::Kind::kJson) {
    std::vector<const google::protobuf::Message*> messages(shown.begin(), shown.end());
    absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
    if (!json.ok()) return ReportError(json.status());
    std::cout << *json;
    return kExitOk;
  }
  if (!o.quiet && format->kind == ListFormat::Kind::kTemplate) {
    std::vector<nlohmann::json> rows;
    for (const v1::Volume* v : shown) rows.push_back(VolumeRowView(*v));
    static const auto* headers = new std::map<std::string, std::string, std::less<>>{{"Name", "VOLUME NAME"}};
    absl::StatusOr<std::string> text = RenderRows(*format, rows, *headers);
    if (!text.ok()) return ReportError(text.status());
    std::cout << *text;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  if (!o.quiet) rows.push_back({"DRIVER", "VOLUME NAME"});
  for (const v1::Volume* vp : shown) {
    const v1::Volume& v = *vp;
    if (o.quiet) {
      std::cout << v.name() << "\n";
    } else {
      rows.push_back({v.driver(), v.name()});
    }
  }
  if (!o.quiet) std::cout << FormatTable(rows);
  return kExitOk;
}

int Inspect(AgentClient& client, const std::vector<std::string>& names) {
  int rc = kExitOk;
  std::vector<v1::Volume> found;
  for (const std::string& name : names) {
    v1::InspectVolumeRequest request;
    request.set_name(name);
    v1::InspectVolumeResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.volumes().Inspect(&ctx, request, &response);
    if (status.ok()) {
      found.push_back(std::move(*response.mutable_volume()));
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  std::vector<const google::protobuf::Message*> messages;
  for (const v1::Volume& v : found) messages.push_back(&v);
  absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
  if (!json.ok()) return ReportError(json.status());
  std::cout << *json;
  return rc;
}

struct RmOptions {
  std::vector<std::string> names;
  bool force = false;
};

int Remove(AgentClient& client, const RmOptions& o) {
  int rc = kExitOk;
  for (const std::string& name : o.names) {
    v1::RemoveVolumeRequest request;
    request.set_name(name);
    request.set_force(o.force);
    v1::RemoveVolumeResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.volumes().Remove(&ctx, request, &response);
    if (status.ok()) {
      std::cout << name << std::endl;
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  return rc;
}

struct PruneOptions {
  bool all = false;
  bool force = false;
  std::vector<std::string> filters;
};

int Prune(AgentClient& client, const PruneOptions& o) {
  absl::StatusOr<VolumeFilters> filters = ParseVolumeFilters(o.filters);
  if (!filters.ok()) return ReportError(filters.status());
  if (filters->dangling || !filters->names.empty()) {
    return ReportError(absl::InvalidArgumentError("volume prune takes only label= filters"));
  }
  if (!o.force && !AskToContinue(o.all ? "This will remove every volume no container uses."
                                       : "This will remove every anonymous volume no container uses.")) {
    return kExitOk;
  }
  v1::PruneVolumesRequest request;
  request.set_all(o.all);
  request.set_label_selector(absl::StrJoin(filters->labels, ","));
  v1::PruneVolumesResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.volumes().Prune(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (response.removed_size() > 0) {
    std::cout << "Deleted Volumes:\n";
    for (const std::string& name : response.removed()) std::cout << name << "\n";
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << HumanSize(response.reclaimed_bytes()) << std::endl;
  return kExitOk;
}

}  // namespace

void AddVolumeCommands(CLI::App& app, CommandTable& table) {
  CLI::App* volume = app.add_subcommand("volume", "Manage volumes");
  volume->require_subcommand(1);
  {
    auto o = std::make_shared<CreateOptions>();
    CLI::App* cmd = volume->add_subcommand("create", "Create a volume (prints its name)");
    cmd->add_option("-d,--driver", o->driver, "Volume driver (local)");
    AddRepeatable(cmd, "-l,--label", o->labels, "Set a label: key=value");
    cmd->add_option("name", o->name, "Volume name (default: a generated one)");
    table.Add(cmd, [o](AgentClient& client) { return Create(client, *o); });
  }
  {
    auto o = std::make_shared<LsOptions>();
    CLI::App* cmd = volume->add_subcommand("ls", "List volumes");
    cmd->alias("list");
    cmd->add_flag("-q,--quiet", o->quiet, "Only print volume names");
    AddRepeatable(cmd, "-f,--filter", o->filters, "Filter: dangling=true|false, label=KEY[=VALUE], name=TEXT");
    cmd->add_option("--format", o->format,
                    "table (default), json, or a Go-style template over .Name .Driver .Mountpoint .Labels .Scope");
    table.Add(cmd, [o](AgentClient& client) { return List(client, *o); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = volume->add_subcommand("inspect", "Show volumes in detail, as JSON");
    cmd->add_option("volumes", *names, "Volume names")->required();
    table.Add(cmd, [names](AgentClient& client) { return Inspect(client, *names); });
  }
  {
    auto o = std::make_shared<RmOptions>();
    CLI::App* cmd = volume->add_subcommand("rm", "Remove volumes no container uses");
    cmd->alias("remove");
    cmd->add_flag("-f,--force", o->force, "Do not fail for a volume that does not exist");
    cmd->add_option("volumes", o->names, "Volume names")->required();
    table.Add(cmd, [o](AgentClient& client) { return Remove(client, *o); });
  }
  {
    auto o = std::make_shared<PruneOptions>();
    CLI::App* cmd = volume->add_subcommand("prune", "Remove anonymous volumes no container uses (-a: all unused)");
    cmd->add_flag("-a,--all", o->all, "Named volumes too");
    cmd->add_flag("-f,--force", o->force, "Do not ask for confirmation");
    AddRepeatable(cmd, "--filter", o->filters, "Filter: label=KEY[=VALUE]");
    table.Add(cmd, [o](AgentClient& client) { return Prune(client, *o); });
  }
}

}  // namespace berth::cli
