// `berth ps`: list containers as a table, ids only (-q), protobuf JSON (-o json, --format
// json), or a docker-style --format template ('{{.Names}}', 'table {{.ID}}\t{{.Status}}').
// `ps --all-nodes` asks every node of the --cluster at once and adds a NODE column; a node that
// does not answer is a warning, and the others are still listed (exit 125 only when none
// answered).
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/flag_definitions.h"
#include "cli/host_target.h"
#include "cli/inventory.h"
#include "cli/human_format.h"
#include "cli/json_output.h"
#include "cli/list_format.h"
#include "cli/list_views.h"
#include "cli/ps_filters.h"
#include "cli/ps_table.h"
#include "cli/table.h"
#include "cli/terminal_style.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// How long --all-nodes waits for one node.
constexpr auto kNodeDeadline = std::chrono::seconds(10);

struct PsOptions {
  bool all = false;
  bool quiet = false;
  bool no_trunc = false;
  bool all_nodes = false;
  std::vector<std::string> filters;
  std::string output = "table";  // -o
  std::string format;            // --format: wins over -o when given
};

// What -o and --format ask for together.
absl::StatusOr<ListFormat> OutputFormat(const PsOptions& o) {
  return ParseListFormat(o.format.empty() ? o.output : o.format);
}

// -o json prints whole records; a table, a template or ids need only a listing's share.
v1::ListView ListViewFor(const ListFormat& format) {
  return format.kind == ListFormat::Kind::kJson ? v1::LIST_VIEW_FULL : v1::LIST_VIEW_SUMMARY;
}

// The table, its STATUS words coloured when stdout is a terminal.
std::string PsTableText(const std::vector<PsEntry>& entries, bool with_node, bool no_trunc) {
  const auto rows = PsTableRows(entries, with_node, no_trunc, absl::Now());
  if (!ColourWantedFor(STDOUT_FILENO)) return FormatTable(rows);
  return FormatTable(rows, [&](size_t row, size_t column, const std::string& cell) {
    if (row == 0 || column != PsStatusColumn(with_node)) return cell;
    return Paint(cell, StatusColour(*entries[row - 1].container), true);
  });
}

// A template format's text for the entries; exit code on failure.
int PrintTemplateRows(const ListFormat& format, const std::vector<PsEntry>& entries, bool with_node,
                      bool no_trunc) {
  const absl::Time now = absl::Now();
  std::vector<nlohmann::json> rows;
  for (const PsEntry& entry : entries) rows.push_back(PsRowView(entry, with_node, no_trunc, now));
  absl::StatusOr<std::string> text = RenderRows(format, rows, PsHeaders());
  if (!text.ok()) return ReportError(text.status());
  std::cout << *text;
  return kExitOk;
}

// The containers of one agent that pass every filter, newest first.
grpc::Status ListMatching(AgentClient& client, const PsQuery& query, bool with_deadline,
                          v1::ListResponse* response,
                          std::vector<const v1::Container*>* matching) {
  grpc::ClientContext ctx;
  if (with_deadline) ctx.set_deadline(std::chrono::system_clock::now() + kNodeDeadline);
  grpc::Status status = client.containers().List(&ctx, query.request, response);
  if (!status.ok()) return status;
  for (const v1::Container& c : response->containers()) {
    if (MatchesClientFilters(query, c)) matching->push_back(&c);
  }
  SortNewestFirst(*matching);
  return status;
}

int Ps(AgentClient& client, const PsOptions& o) {
  absl::StatusOr<PsQuery> query = BuildPsQuery(o.all, o.filters);
  if (!query.ok()) return ReportError(query.status());
  absl::StatusOr<ListFormat> format = OutputFormat(o);
  if (!format.ok()) return ReportError(format.status());
  query->request.set_view(ListViewFor(*format));
  v1::ListResponse response;
  std::vector<const v1::Container*> containers;
  grpc::Status status = ListMatching(client, *query, false, &response, &containers);
  if (!status.ok()) return ReportRpcError(status, client);

  if (o.quiet) {
    for (const v1::Container* c : containers) {
      std::cout << (o.no_trunc ? c->id() : ShortId(c->id())) << "\n";
    }
    return kExitOk;
  }
  if (format->kind == ListFormat::Kind::kJson) {
    std::vector<const google::protobuf::Message*> messages(containers.begin(), containers.end());
    absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
    if (!json.ok()) return ReportError(json.status());
    std::cout << *json;
    return kExitOk;
  }
  std::vector<PsEntry> entries;
  for (const v1::Container* c : containers) entries.push_back({"", c});
  if (format->kind == ListFormat::Kind::kTemplate) {
    return PrintTemplateRows(*format, entries, /*with_node=*/false, o.no_trunc);
  }
  std::cout << PsTableText(entries, /*with_node=*/false, o.no_trunc);
  return kExitOk;
}

// One node's answer to --all-nodes.
struct NodeListing {
  std::string address;  // "tcp://10.99.0.2:7443", "unix:///..."
  grpc::Status status;
  std::string error;    // why it did not answer (RpcErrorMessage, or why it could not be asked)
  v1::ListResponse response;
  std::vector<const v1::Container*> containers;
};

int PsAllNodes(const Inventory& cluster, const PsOptions& o) {
  absl::StatusOr<PsQuery> query = BuildPsQuery(o.all, o.filters);
  if (!query.ok()) return ReportError(query.status());
  absl::StatusOr<ListFormat> format = OutputFormat(o);
  if (!format.ok()) return ReportError(format.status());
  query->request.set_view(ListViewFor(*format));
  std::vector<NodeListing> listings(cluster.nodes.size());
  {
    std::vector<std::thread> askers;
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      absl::StatusOr<AgentEndpoint> endpoint = NodeEndpoint(cluster, cluster.nodes[i]);
      if (!endpoint.ok()) {
        listings[i].status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "");
        listings[i].error = std::string(endpoint.status().message());
        continue;
      }
      listings[i].address = endpoint->address.Uri();
      // Each node on its own thread, diagnosis of a TLS failure included.
      askers.emplace_back([&listing = listings[i], &q = *query, endpoint = *std::move(endpoint)] {
        absl::StatusOr<std::unique_ptr<AgentClient>> client = AgentClient::Open(endpoint);
        if (!client.ok()) {
          listing.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "");
          listing.error = std::string(client.status().message());
          return;
        }
        listing.status = ListMatching(**client, q, /*with_deadline=*/true, &listing.response,
                                      &listing.containers);
        if (!listing.status.ok()) listing.error = RpcErrorMessage(listing.status, **client);
      });
    }
    for (std::thread& t : askers) t.join();
  }

  size_t answered = 0;
  for (size_t i = 0; i < listings.size(); ++i) {
    const NodeListing& l = listings[i];
    if (l.status.ok()) {
      ++answered;
      continue;
    }
    std::cerr << "Warning: node " << cluster.nodes[i].name;
    if (!l.address.empty()) std::cerr << " (" << l.address << ")";
    std::cerr << " did not answer: " << l.error << "\n";
  }
  if (answered == 0) return ReportError("no node of the cluster answered");

  if (o.quiet) {
    for (const NodeListing& l : listings) {
      for (const v1::Container* c : l.containers) {
        std::cout << (o.no_trunc ? c->id() : ShortId(c->id())) << "\n";
      }
    }
    return kExitOk;
  }
  if (format->kind == ListFormat::Kind::kJson) {
    // {"node-1": [containers...], ...}: the node is not part of the Container message.
    std::string compact = "{";
    bool first = true;
    for (size_t i = 0; i < listings.size(); ++i) {
      if (!listings[i].status.ok()) continue;
      if (!first) compact += ',';
      first = false;
      compact += nlohmann::json(cluster.nodes[i].name).dump() + ":[";
      for (size_t j = 0; j < listings[i].containers.size(); ++j) {
        absl::StatusOr<std::string> json = MessageToJson(*listings[i].containers[j]);
        if (!json.ok()) return ReportError(json.status());
        if (j > 0) compact += ',';
        compact += *json;
      }
      compact += ']';
    }
    compact += '}';
    std::cout << PrettyJson(compact) << "\n";
    return kExitOk;
  }
  std::vector<PsEntry> entries;
  for (size_t i = 0; i < listings.size(); ++i) {
    for (const v1::Container* c : listings[i].containers) {
      entries.push_back({cluster.nodes[i].name, c});
    }
  }
  if (format->kind == ListFormat::Kind::kTemplate) {
    return PrintTemplateRows(*format, entries, /*with_node=*/true, o.no_trunc);
  }
  std::cout << PsTableText(entries, /*with_node=*/true, o.no_trunc);
  return kExitOk;
}

}  // namespace

void AddPsCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<PsOptions>();
  CLI::App* cmd = app.add_subcommand("ps", "List containers (running ones unless -a)");
  cmd->add_flag("-a,--all", o->all, "Show every container, not only running and paused ones");
  cmd->add_flag("-q,--quiet", o->quiet, "Only print container ids");
  cmd->add_flag("--no-trunc", o->no_trunc, "Do not shorten ids and commands");
  cmd->add_flag("--all-nodes", o->all_nodes,
                "List the containers of every node of the --cluster, with a NODE column");
  AddRepeatable(cmd, "-f,--filter", o->filters,
                "label=k=v, label=k, status=created|running|paused|exited, name=..., id=...");
  cmd->add_option("-o,--output", o->output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->add_option("--format", o->format,
                  "table, json, or a Go-style template: '{{.Names}}', 'table {{.ID}}\\t{{.Status}}' "
                  "(fields .ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Names .Labels "
                  ".LabelsMap .Mounts .Networks, .Node with --all-nodes)");
  table.Add(cmd, [o](AgentClient& client) { return Ps(client, *o); });
  table.AddAllNodes(
      cmd, [o] { return o->all_nodes; },
      [o](const Inventory& cluster) { return PsAllNodes(cluster, *o); });
}

}  // namespace berth::cli
