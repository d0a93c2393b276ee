// The verbs that act on existing containers one id at a time: start, stop, restart, kill, rm,
// pause, unpause, wait. Like docker, each id is tried even when an earlier one failed; the successes
// are echoed (wait: the exit code), the failures reported, and any failure makes the exit 125.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "runtime/base/signal_names.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// Runs `call` for each id; `call` returns the status and the line to print on success.
int ForEachId(AgentClient& client, const std::vector<std::string>& ids,
              const std::function<grpc::Status(const std::string& id, std::string* line)>& call) {
  int rc = kExitOk;
  for (const std::string& id : ids) {
    std::string line = id;
    grpc::Status status = call(id, &line);
    if (status.ok()) {
      std::cout << line << std::endl;
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  return rc;
}

struct StopOptions {
  std::vector<std::string> ids;
  std::optional<int> timeout;  // unset: the container's (--stop-timeout, else 10 s)
  std::string signal;
};

CLI::Option* AddIds(CLI::App* cmd, std::vector<std::string>& ids) {
  return cmd->add_option("containers", ids, "Container ids, id prefixes or names")->required();
}

}  // namespace

void AddLifecycleCommands(CLI::App& app, CommandTable& table) {
  {
    auto ids = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = app.add_subcommand("start", "Start created or stopped containers");
    AddIds(cmd, *ids);
    table.Add(cmd, [ids](AgentClient& client) {
      return ForEachId(client, *ids, [&](const std::string& id, std::string*) {
        v1::StartRequest request;
        request.set_id(id);
        v1::StartResponse response;
        grpc::ClientContext ctx;
        return client.containers().Start(&ctx, request, &response);
      });
    });
  }
  // stop, and restart (docker restart: stop, then start; a stopped one just starts).
  for (const bool restart : {false, true}) {
    auto o = std::make_shared<StopOptions>();
    CLI::App* cmd = restart ? app.add_subcommand("restart", "Stop and start containers again")
                            : app.add_subcommand("stop", "Stop running containers (signal, then SIGKILL)");
    cmd->add_option("-t,--time", o->timeout,
                    "Seconds to wait before SIGKILL (negative: wait forever; default: the container's, 10)");
    cmd->add_option("-s,--signal", o->signal, "Signal to send first (default: the container's, SIGTERM)");
    AddIds(cmd, o->ids);
    table.Add(cmd, [o, restart](AgentClient& client) {
      int signo = 0;  // the container's own
      if (!o->signal.empty()) {
        absl::StatusOr<int> parsed = ParseSignal(o->signal);
        if (!parsed.ok()) return ReportError(parsed.status());
        signo = *parsed;
      }
      return ForEachId(client, o->ids, [&](const std::string& id, std::string*) {
        v1::StopRequest stop;
        stop.set_id(id);
        stop.set_signal(signo);
        if (o->timeout) stop.set_timeout_seconds(*o->timeout);
        v1::StopResponse stopped;
        grpc::ClientContext stop_ctx;
        grpc::Status status = client.containers().Stop(&stop_ctx, stop, &stopped);
        if (!status.ok() || !restart) return status;
        v1::StartRequest start;
        start.set_id(stopped.container().id());
        v1::StartResponse started;
        grpc::ClientContext start_ctx;
        return client.containers().Start(&start_ctx, start, &started);
      });
    });
  }
  {
    struct KillOptions {
      std::vector<std::string> ids;
      std::string signal = "KILL";
    };
    auto o = std::make_shared<KillOptions>();
    CLI::App* cmd = app.add_subcommand("kill", "Send a signal to running containers");
    cmd->add_option("-s,--signal", o->signal, "Signal: number or name (KILL, SIGTERM, HUP)")
        ->capture_default_str();
    AddIds(cmd, o->ids);
    table.Add(cmd, [o](AgentClient& client) {
      absl::StatusOr<int> signo = ParseSignal(o->signal);
      if (!signo.ok()) return ReportError(signo.status());
      return ForEachId(client, o->ids, [&](const std::string& id, std::string*) {
        v1::KillRequest request;
        request.set_id(id);
        request.set_signal(*signo);
        v1::KillResponse response;
        grpc::ClientContext ctx;
        return client.containers().Kill(&ctx, request, &response);
      });
    });
  }
  {
    struct RmOptions {
      std::vector<std::string> ids;
      bool force = false;
      bool volumes = false;
    };
    auto o = std::make_shared<RmOptions>();
    CLI::App* cmd = app.add_subcommand("rm", "Remove containers");
    cmd->add_flag("-f,--force", o->force, "Kill running containers first");
    cmd->add_flag("-v,--volumes", o->volumes, "Remove their anonymous volumes too");
    AddIds(cmd, o->ids);
    table.Add(cmd, [o](AgentClient& client) {
      return ForEachId(client, o->ids, [&](const std::string& id, std::string*) {
        v1::RemoveRequest request;
        request.set_id(id);
        request.set_force(o->force);
        request.set_remove_volumes(o->volumes);
        v1::RemoveResponse response;
        grpc::ClientContext ctx;
        return client.containers().Remove(&ctx, request, &response);
      });
    });
  }
  {
    auto ids = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = app.add_subcommand("pause", "Freeze all processes of containers");
    AddIds(cmd, *ids);
    table.Add(cmd, [ids](AgentClient& client) {
      return ForEachId(client, *ids, [&](const std::string& id, std::string*) {
        v1::PauseRequest request;
        request.set_id(id);
        v1::PauseResponse response;
        grpc::ClientContext ctx;
        return client.containers().Pause(&ctx, request, &response);
      });
    });
  }
  {
    auto ids = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = app.add_subcommand("unpause", "Thaw paused containers");
    AddIds(cmd, *ids);
    table.Add(cmd, [ids](AgentClient& client) {
      return ForEachId(client, *ids, [&](const std::string& id, std::string*) {
        v1::ResumeRequest request;
        request.set_id(id);
        v1::ResumeResponse response;
        grpc::ClientContext ctx;
        return client.containers().Resume(&ctx, request, &response);
      });
    });
  }
  {
    auto ids = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = app.add_subcommand("wait", "Block until containers exit; print exit codes");
    AddIds(cmd, *ids);
    table.Add(cmd, [ids](AgentClient& client) {
      return ForEachId(client, *ids, [&](const std::string& id, std::string* line) {
        v1::WaitRequest request;
        request.set_id(id);
        v1::WaitResponse response;
        grpc::ClientContext ctx;
        grpc::Status status = client.containers().Wait(&ctx, request, &response);
        *line = std::to_string(response.exit_code());
        return status;
      });
    });
  }
}

}  // namespace berth::cli
