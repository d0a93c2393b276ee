// `berth events`: the agent's events as they happen (after --since, from its journal), one
// line each, written out as it arrives because the output is usually piped on.
#include <unistd.h>

#include <memory>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/event_format.h"
#include "cli/exit_codes.h"
#include "cli/json_output.h"
#include "cli/output.h"

namespace berth::cli {
namespace {

struct EventsOptions {
  std::string since;
  std::vector<std::string> filters;
  std::string format;
};

int Events(AgentClient& client, const EventsOptions& o) {
  v1::SubscribeRequest request;
  if (!o.since.empty()) {
    if (absl::Status st = ApplyEventsSince(o.since, absl::Now(), request); !st.ok()) return ReportError(st);
  }
  for (const std::string& f : o.filters) {
    if (absl::Status st = AddEventFilter(f, *request.mutable_filter()); !st.ok()) return ReportError(st);
  }
  if (!o.format.empty() && o.format != "json") {
    return ReportError(absl::InvalidArgumentError("--format: only json is supported (or leave it out for text)"));
  }
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader = client.events().Subscribe(&ctx, request);
  v1::Event event;
  bool reader_gone = false;
  while (reader->Read(&event)) {
    std::string line;
    if (o.format == "json") {
      absl::StatusOr<std::string> json = MessageToJson(event);
      if (!json.ok()) return ReportError(json.status());
      line = *json + "\n";
    } else {
      line = FormatEventLine(event);
    }
    if (!WriteAll(STDOUT_FILENO, line)) {  // `berth events | head -3`: the reader left
      reader_gone = true;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (reader_gone) return kExitOk;
  if (!status.ok()) return ReportRpcError(status, client);
  return kExitOk;
}

}  // namespace

void AddEventsCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<EventsOptions>();
  CLI::App* cmd = app.add_subcommand("events", "Print the agent's events as they happen");
  cmd->add_option("--since", o->since,
                  "Start after this sequence number (digits) or at a time (RFC 3339, or a duration ago like 10m)");
  cmd->add_option("-f,--filter", o->filters, "type=container|container.exit|..., id=, name=, label=k[=v] (repeatable)");
  cmd->add_option("--format", o->format, "json: one JSON object per line");
  table.Add(cmd, [o](AgentClient& client) { return Events(client, *o); });
}

}  // namespace berth::cli
