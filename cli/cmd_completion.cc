// `berth completion bash|zsh` prints a completion script generated from this CLI's own
// definitions; the script calls the hidden `berth __complete KIND` for object names, which
// asks the agent (the same host, context and TLS settings as any other command).
#include <iostream>
#include <memory>
#include <set>

#include "cli/commands.h"
#include "cli/completion.h"
#include "cli/exit_codes.h"
#include "cli/human_format.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// Names of one kind of object; failures print nothing (a shell is waiting for words).
void AddNames(AgentClient& client, const std::string& kind, std::set<std::string>& out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  if (kind == "containers") {
    v1::ListRequest req;
    req.set_view(v1::LIST_VIEW_SUMMARY);
    v1::ListResponse resp;
    if (client.containers().List(&ctx, req, &resp).ok()) {
      for (const v1::Container& c : resp.containers()) out.insert(c.name());
    }
  } else if (kind == "images") {
    v1::ListImagesResponse resp;
    if (client.images().List(&ctx, v1::ListImagesRequest(), &resp).ok()) {
      for (const v1::Image& i : resp.images()) out.insert(i.names().begin(), i.names().end());
    }
  } else if (kind == "networks") {
    v1::ListNetworksResponse resp;
    if (client.networks().List(&ctx, v1::ListNetworksRequest(), &resp).ok()) {
      for (const v1::Network& n : resp.networks()) out.insert(n.name());
    }
  } else if (kind == "volumes") {
    v1::ListVolumesResponse resp;
    if (client.volumes().List(&ctx, v1::ListVolumesRequest(), &resp).ok()) {
      for (const v1::Volume& v : resp.volumes()) out.insert(v.name());
    }
  }
}

}  // namespace

void AddCompletionCommands(CLI::App& app, CommandTable& table) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("completion", "Print a shell completion script: bash or zsh");
  cmd->add_option("shell", *shell, "bash or zsh")->required();
  CLI::App* root = &app;
  table.AddLocal(cmd, [shell, root] {
    const std::string script = CompletionScript(*root, *shell);
    if (script.empty()) return ReportError("completion " + Quote(*shell) + ": want bash or zsh");
    std::cout << script;
    return kExitOk;
  });

  auto kind = std::make_shared<std::string>();
  CLI::App* names = app.add_subcommand("__complete", "Object names for shell completion");
  names->group("");  // hidden: the completion script's, not a person's
  names->add_option("kind", *kind, "containers, images, networks, volumes or all")->required();
  table.Add(names, [kind](AgentClient& client) {
    std::set<std::string> out;
    for (const char* k : {"containers", "images", "networks", "volumes"}) {
      if (*kind == k || *kind == "all") AddNames(client, k, out);
    }
    for (const std::string& n : out) std::cout << n << "\n";
    return kExitOk;
  });
}

}  // namespace berth::cli
