// `berth logs`: a container's stdout/stderr from its log, each chunk to the stream it came from.
#include <memory>
#include <optional>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_format.h"
#include "cli/log_prefixer.h"
#include "cli/output.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct LogsOptions {
  std::string id;
  bool follow = false;
  bool timestamps = false;
  std::string tail = "all";
  std::string since;
  std::string until;
};

int Logs(AgentClient& client, const LogsOptions& o) {
  const absl::Time now = absl::Now();
  v1::LogsRequest request;
  request.set_id(o.id);
  request.set_follow(o.follow);
  absl::StatusOr<int64_t> tail = ParseTail(o.tail);
  if (!tail.ok()) return ReportError(tail.status());
  std::optional<absl::Time> since;
  if (!o.since.empty()) {
    absl::StatusOr<absl::Time> parsed = ParseSince(o.since, now);
    if (!parsed.ok()) return ReportError(parsed.status());
    since = *parsed;
  }
  if (*tail == 0) {
    // The API reads tail 0 as "all"; "no old lines" is "nothing before now".
    since = now;
  } else {
    request.set_tail(*tail);  // -1 (all) is negative, which the API also reads as all
  }
  if (since) *request.mutable_since() = TimeToProto(*since);
  if (!o.until.empty()) {
    absl::StatusOr<absl::Time> until = ParseSince(o.until, now);
    if (!until.ok()) return ReportError(absl::InvalidArgumentError(absl::StrCat("--until: ", until.status().message())));
    *request.mutable_until() = TimeToProto(*until);
  }

  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::LogsResponse>> reader =
      client.containers().Logs(&ctx, request);
  TimestampPrefixer prefixer;
  v1::LogsResponse response;
  bool reader_gone = false;
  while (reader->Read(&response)) {
    const v1::OutputChunk& chunk = response.chunk();
    bool written;
    if (o.timestamps) {
      const absl::Time t = chunk.has_time() ? TimeFromProto(chunk.time()) : absl::Now();
      written = WriteAll(FdForStream(chunk.stream()), prefixer.Apply(chunk.stream(), chunk.data(), t));
    } else {
      written = WriteAll(FdForStream(chunk.stream()), chunk.data());
    }
    if (!written) {  // whoever read our output stopped (`logs -f | head`): so do we
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

void AddLogsCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<LogsOptions>();
  CLI::App* cmd = app.add_subcommand("logs", "Print a container's output");
  cmd->add_flag("-f,--follow", o->follow, "Keep printing new output until the container exits");
  cmd->add_flag("-t,--timestamps", o->timestamps, "Prefix each line with its time");
  cmd->add_option("-n,--tail", o->tail, "Only the last N lines (or all)")->capture_default_str();
  cmd->add_option("--since", o->since,
                  "Only output since a time (RFC 3339, Unix seconds) or a duration ago (10m)");
  cmd->add_option("--until", o->until, "Only output up to a time (RFC 3339, Unix seconds) or a duration ago (10m)");
  cmd->add_option("container", o->id, "Container id, id prefix or name")->required();
  table.Add(cmd, [o](AgentClient& client) { return Logs(client, *o); });
}

}  // namespace berth::cli
