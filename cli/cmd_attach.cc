// `berth attach`: the terminal to a running container's stdin, stdout and stderr, as docker
// attach: its stdin when it was created with -i, its pty with -t; the detach keys
// (ctrl-p ctrl-q) leave it running; otherwise the exit is the container's exit code.
#include <memory>
#include <string>

#include "cli/attach_session.h"
#include "cli/commands.h"
#include "cli/detach_keys.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct AttachFlags {
  std::string id;
  bool no_stdin = false;
  std::string detach_keys = kDefaultDetachKeys;
};

int Attach(AgentClient& client, const AttachFlags& f) {
  absl::StatusOr<std::string> keys = ParseDetachKeys(f.detach_keys);
  if (!keys.ok()) return ReportError(keys.status());
  v1::InspectRequest request;
  request.set_id(f.id);
  v1::InspectResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.containers().Inspect(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  const v1::Container& c = response.container();
  if (c.state() != v1::RUNNING && c.state() != v1::PAUSED) {
    return ReportError("container " + c.name() + " is not running; start it first (berth start -a is not needed: " +
                       "berth start " + c.name() + " && berth attach " + c.name() + ")");
  }
  AttachSessionOptions options;
  options.stdin = !f.no_stdin && c.config().open_stdin();
  options.tty = c.config().tty();
  if (options.stdin && options.tty && !IsTerminal(STDIN_FILENO)) return ReportError("the input device is not a TTY");
  options.detach_keys = *keys;
  return AttachSession(client, c.id(), options);
}

}  // namespace

void AddAttachCommand(CLI::App& app, CommandTable& table) {
  auto f = std::make_shared<AttachFlags>();
  CLI::App* cmd = app.add_subcommand("attach", "Attach this terminal to a running container");
  cmd->add_option("container", f->id, "Container id, id prefix or name")->required();
  cmd->add_flag("--no-stdin", f->no_stdin, "Do not attach stdin");
  cmd->add_option("--detach-keys", f->detach_keys, "Keys that detach, leaving it running")->capture_default_str();
  table.Add(cmd, [f](AgentClient& client) { return Attach(client, *f); });
}

}  // namespace berth::cli
