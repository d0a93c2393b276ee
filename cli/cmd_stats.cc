// `berth stats`: a live table of what containers use (docker stats), from StatsStream.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/json_output.h"
#include "cli/output.h"
#include "cli/stats_table.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct StatsOptions {
  std::vector<std::string> ids;
  bool no_stream = false;
  std::string format;
};

int Stats(AgentClient& client, const StatsOptions& o) {
  if (!o.format.empty() && o.format != "json") {
    return ReportError(absl::InvalidArgumentError("--format: only json is supported (or leave it out for the table)"));
  }
  v1::StatsStreamRequest request;
  for (const std::string& id : o.ids) request.add_ids(id);
  // --no-stream still needs two samples for CPU %: half a second apart.
  request.set_interval_ms(o.no_stream ? 500 : 1000);
  grpc::ClientContext ctx;
  auto reader = client.containers().StatsStream(&ctx, request);
  const bool redraw = !o.no_stream && o.format.empty() && IsTerminal(STDOUT_FILENO);
  StatsSamples previous;
  v1::StatsResponse response;
  int frames = 0;
  bool reader_gone = false;
  while (reader->Read(&response)) {
    ++frames;
    std::vector<v1::ContainerStats> current(response.stats().begin(), response.stats().end());
    std::string out;
    if (o.format == "json") {
      for (const auto& s : current) {
        absl::StatusOr<std::string> json = MessageToJson(s);
        if (!json.ok()) return ReportError(json.status());
        out += *json + "\n";
      }
    } else if (!o.no_stream || frames == 2) {
      out = StatsTable(current, previous);
      if (redraw) out = "\033[2J\033[H" + out;  // clear the screen, as docker stats does
    }
    bool last = o.no_stream && (frames == 2 || o.format == "json");
    if (!out.empty() && !WriteAll(STDOUT_FILENO, out)) {
      reader_gone = true;
      last = true;
    }
    previous.clear();
    for (auto& s : current) previous[s.id()] = std::move(s);
    if (last) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (reader_gone || (o.no_stream && status.error_code() == grpc::StatusCode::CANCELLED)) return kExitOk;
  if (!status.ok()) return ReportRpcError(status, client);
  return kExitOk;
}

}  // namespace

void AddStatsCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<StatsOptions>();
  CLI::App* cmd = app.add_subcommand("stats", "Show what containers use: CPU, memory, network, block I/O, pids");
  cmd->add_flag("--no-stream", o->no_stream, "Print one table and exit");
  cmd->add_option("--format", o->format, "json: one JSON object per container and sample");
  cmd->add_option("containers", o->ids, "Containers (default: every running one)");
  table.Add(cmd, [o](AgentClient& client) { return Stats(client, *o); });
}

}  // namespace berth::cli
