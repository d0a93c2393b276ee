// `berth network create|ls|inspect|rm`: the agent's networks (berth.v1.Networks). Like the
// container verbs, inspect and rm try every name, report the failures, and exit 125 if any.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/container_flags.h"
#include "cli/exit_codes.h"
#include "cli/flag_definitions.h"
#include "cli/human_format.h"
#include "cli/json_output.h"
#include "cli/list_format.h"
#include "cli/list_views.h"
#include "cli/network_table.h"
#include "cli/table.h"
#include "runtime/base/quote.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct CreateOptions {
  std::string name;
  std::vector<std::string> subnets;   // at most one IPv4 and one IPv6, as docker takes them
  std::vector<std::string> gateways;
  std::vector<std::string> labels;
  std::vector<std::string> options;
  bool ipv6 = false;
};

bool IsV6(const std::string& address) { return address.find(':') != std::string::npos; }

// docker's --subnet/--gateway are repeatable, one per family; the family picks the field.
absl::Status SetByFamily(const std::vector<std::string>& values, const char* flag, std::string* v4,
                         std::string* v6) {
  for (const std::string& value : values) {
    std::string* field = IsV6(value) ? v6 : v4;
    if (!field->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " ", Quoted(value), ": one ", IsV6(value) ? "IPv6" : "IPv4",
                                                     " ", flag + 2, " per network; ", Quoted(*field), " is given already"));
    }
    *field = value;
  }
  return absl::OkStatus();
}

int Create(AgentClient& client, const CreateOptions& o) {
  v1::CreateNetworkRequest request;
  request.set_name(o.name);
  if (absl::Status st = SetByFamily(o.subnets, "--subnet", request.mutable_subnet(), request.mutable_ipv6_subnet());
      !st.ok()) {
    return ReportError(st);
  }
  if (absl::Status st =
          SetByFamily(o.gateways, "--gateway", request.mutable_gateway(), request.mutable_ipv6_gateway());
      !st.ok()) {
    return ReportError(st);
  }
  if (!request.ipv6_subnet().empty() && !o.ipv6) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat("--subnet ", Quoted(request.ipv6_subnet()), " is IPv6: add --ipv6 to give containers v6 addresses")));
  }
  request.set_ipv6(o.ipv6);
  absl::StatusOr<std::map<std::string, std::string>> labels = ParseLabels(o.labels);
  if (!labels.ok()) return ReportError(labels.status());
  request.mutable_labels()->insert(labels->begin(), labels->end());
  absl::StatusOr<std::map<std::string, std::string>> options = ParseLabels(o.options);
  if (!options.ok()) return ReportError(options.status());
  request.mutable_options()->insert(options->begin(), options->end());
  v1::CreateNetworkResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.networks().Create(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::cout << response.network().id() << std::endl;
  return kExitOk;
}

struct LsOptions {
  bool quiet = false;
  bool no_trunc = false;
  std::string format;
};

int List(AgentClient& client, const LsOptions& o) {
  absl::StatusOr<ListFormat> format = ParseListFormat(o.format);
  if (!format.ok()) return ReportError(format.status());
  v1::ListNetworksResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.networks().List(&ctx, v1::ListNetworksRequest(), &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::vector<const v1::Network*> networks;
  for (const v1::Network& n : response.networks()) networks.push_back(&n);
  if (o.quiet) {
    SortByName(networks);
    for (const v1::Network* n : networks) {
      std::cout << (o.no_trunc ? n->id() : ShortId(n->id())) << "\n";
    }
    return kExitOk;
  }
  if (format->kind == ListFormat::Kind::kJson) {
    SortByName(networks);
    std::vector<const google::protobuf::Message*> messages(networks.begin(), networks.end());
    absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
    if (!json.ok()) return ReportError(json.status());
    std::cout << *json;
    return kExitOk;
  }
  if (format->kind == ListFormat::Kind::kTemplate) {
    SortByName(networks);
    std::vector<nlohmann::json> rows;
    for (const v1::Network* n : networks) rows.push_back(NetworkRowView(*n, o.no_trunc));
    absl::StatusOr<std::string> text = RenderRows(*format, rows, NetworkHeaders());
    if (!text.ok()) return ReportError(text.status());
    std::cout << *text;
    return kExitOk;
  }
  std::cout << FormatTable(NetworkTableRows(networks, o.no_trunc));
  return kExitOk;
}

int Inspect(AgentClient& client, const std::vector<std::string>& names) {
  int rc = kExitOk;
  std::vector<v1::Network> found;
  for (const std::string& name : names) {
    v1::InspectNetworkRequest request;
    request.set_id(name);
    v1::InspectNetworkResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.networks().Inspect(&ctx, request, &response);
    if (status.ok()) {
      found.push_back(std::move(*response.mutable_network()));
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  std::vector<const google::protobuf::Message*> messages;
  for (const v1::Network& n : found) messages.push_back(&n);
  absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
  if (!json.ok()) return ReportError(json.status());
  std::cout << *json;
  return rc;
}

int Remove(AgentClient& client, const std::vector<std::string>& names) {
  int rc = kExitOk;
  for (const std::string& name : names) {
    v1::RemoveNetworkRequest request;
    request.set_id(name);
    v1::RemoveNetworkResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.networks().Remove(&ctx, request, &response);
    if (status.ok()) {
      std::cout << name << std::endl;
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  return rc;
}

}  // namespace

void AddNetworkCommands(CLI::App& app, CommandTable& table) {
  CLI::App* network = app.add_subcommand("network", "Manage networks");
  network->require_subcommand(1);
  {
    auto o = std::make_shared<CreateOptions>();
    CLI::App* cmd = network->add_subcommand("create", "Create a bridge network (prints its id)");
    AddRepeatable(cmd, "--subnet", o->subnets,
                  "Subnet in CIDR form, one IPv4 and one IPv6 (default: the next free /24; with --ipv6, a ULA /64)");
    AddRepeatable(cmd, "--gateway", o->gateways, "Gateway address of its subnet's family (default: the subnet's first)");
    cmd->add_flag("--ipv6", o->ipv6, "Give containers IPv6 addresses too");
    AddRepeatable(cmd, "-o,--opt", o->options, "Driver option: masquerade=true|false (outbound NAT, default true)");
    AddRepeatable(cmd, "-l,--label", o->labels, "Set a label: key=value");
    cmd->add_option("name", o->name, "Network name")->required();
    table.Add(cmd, [o](AgentClient& client) { return Create(client, *o); });
  }
  {
    auto o = std::make_shared<LsOptions>();
    CLI::App* cmd = network->add_subcommand("ls", "List networks");
    cmd->alias("list");
    cmd->add_flag("-q,--quiet", o->quiet, "Only print network ids");
    cmd->add_flag("--no-trunc", o->no_trunc, "Do not shorten ids");
    cmd->add_option("--format", o->format,
                    "table, json, or a Go-style template: '{{.Name}}', 'table {{.ID}}\\t{{.Name}}' "
                    "(fields .ID .Name .Driver .Scope .IPv6 .Internal .Labels .CreatedAt .Subnet "
                    ".Gateway .Bridge)");
    table.Add(cmd, [o](AgentClient& client) { return List(client, *o); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = network->add_subcommand("inspect", "Show networks in detail, as JSON");
    cmd->add_option("networks", *names, "Network names, ids or id prefixes")->required();
    table.Add(cmd, [names](AgentClient& client) { return Inspect(client, *names); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = network->add_subcommand("rm", "Remove networks");
    cmd->alias("remove");
    cmd->add_option("networks", *names, "Network names, ids or id prefixes")->required();
    table.Add(cmd, [names](AgentClient& client) { return Remove(client, *names); });
  }
}

}  // namespace berth::cli
