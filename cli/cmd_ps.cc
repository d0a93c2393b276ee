// `berth ps`: list containers as a table, ids only (-q), or protobuf JSON (-o json).
#include <algorithm>
#include <iostream>
#include <memory>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/flag_definitions.h"
#include "cli/human_format.h"
#include "cli/json_output.h"
#include "cli/ps_filters.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct PsOptions {
  bool all = false;
  bool quiet = false;
  bool no_trunc = false;
  std::vector<std::string> filters;
  std::string format = "table";
};

int Ps(AgentClient& client, const PsOptions& o) {
  absl::StatusOr<PsQuery> query = BuildPsQuery(o.all, o.filters);
  if (!query.ok()) return ReportError(query.status());
  v1::ListResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.containers().List(&ctx, query->request, &response);
  if (!status.ok()) return ReportRpcError(status, client);

  std::vector<const v1::Container*> containers;
  for (const v1::Container& c : response.containers()) {
    if (MatchesClientFilters(*query, c)) containers.push_back(&c);
  }
  // Newest first, as docker lists them.
  std::stable_sort(containers.begin(), containers.end(), [](const auto* a, const auto* b) {
    return TimeFromProto(a->created_at()) > TimeFromProto(b->created_at());
  });

  if (o.quiet) {
    for (const v1::Container* c : containers) {
      std::cout << (o.no_trunc ? c->id() : ShortId(c->id())) << "\n";
    }
    return kExitOk;
  }
  if (o.format == "json") {
    std::vector<const google::protobuf::Message*> messages(containers.begin(), containers.end());
    absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
    if (!json.ok()) return ReportError(json.status());
    std::cout << *json;
    return kExitOk;
  }
  const absl::Time now = absl::Now();
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"}};
  for (const v1::Container* c : containers) {
    rows.push_back({o.no_trunc ? c->id() : ShortId(c->id()), c->image(),
                    CommandText(*c, /*truncate=*/!o.no_trunc), CreatedText(*c, now),
                    StatusText(*c, now), c->name()});
  }
  std::cout << FormatTable(rows);
  return kExitOk;
}

}  // namespace

void AddPsCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<PsOptions>();
  CLI::App* cmd = app.add_subcommand("ps", "List containers (running ones unless -a)");
  cmd->add_flag("-a,--all", o->all, "Show every container, not only running and paused ones");
  cmd->add_flag("-q,--quiet", o->quiet, "Only print container ids");
  cmd->add_flag("--no-trunc", o->no_trunc, "Do not shorten ids and commands");
  AddRepeatable(cmd, "-f,--filter", o->filters,
                "label=k=v, label=k, status=created|running|paused|exited, name=..., id=...");
  cmd->add_option("-o,--output", o->format, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  table.Add(cmd, [o](AgentClient& client) { return Ps(client, *o); });
}

}  // namespace berth::cli
