// berth: the command line of the Berth node agent. Flags become berth.v1 requests; responses
// become tables, JSON or a container's own output and exit code.
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/host_target.h"
#include "cli/signal_router.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  using namespace berth::cli;
  // Before any thread exists, so that gRPC's threads inherit the blocked signal mask.
  InstallSignalRouter();

  CLI::App app{"Run and manage containers on a Berth node agent.", "berth"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("berth version ") + BERTH_VERSION);
  std::string host;
  app.add_option("-H,--host", host,
                 "Agent address: unix:///path/to.sock or host:port (default " +
                     std::string(kDefaultHost) + ")")
      ->envname("BERTH_HOST");

  CommandTable table;
  AddRunCommands(app, table);
  AddExecCommand(app, table);
  AddLifecycleCommands(app, table);
  AddPsCommand(app, table);
  AddInspectCommand(app, table);
  AddLogsCommand(app, table);
  AddVersionCommand(app, table);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty() && !app.remaining().empty() &&
        !app.remaining().front().empty() && app.remaining().front().front() != '-') {
      return ReportError("unknown command '" + app.remaining().front() +
                         "' (see berth --help)");
    }
    const int rc = app.exit(e);  // prints help, version or the usage error
    return rc == 0 ? kExitOk : kExitCliError;
  }

  absl::StatusOr<std::string> target = ResolveHostTarget(host);
  if (!target.ok()) return ReportError(target.status());
  const CommandAction* action = table.Parsed();
  if (action == nullptr) return ReportError("no command given");  // require_subcommand prevents it

  try {
    AgentClient client(*target);
    return (*action)(client);
  } catch (const std::exception& e) {
    return ReportError(e.what());
  }
}
