// `berth context create|ls|use|rm|inspect|show`: named agent endpoints, as `docker context`
// (storage in contexts.h). None of these talk to an agent.
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/contexts.h"
#include "cli/exit_codes.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

absl::StatusOr<ContextStore> Store() { return ContextStore::ForHome(std::getenv("HOME")); }

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

struct CreateOptions {
  std::string name;
  std::string description;
  std::string host;
  TlsFiles tls;
};

int Create(const CreateOptions& o) {
  absl::StatusOr<ContextStore> store = Store();
  if (!store.ok()) return ReportError(store.status());
  absl::StatusOr<Context> created =
      store->Create(Context{o.name, o.description, o.host, o.tls});
  if (!created.ok()) return ReportError(created.status());
  std::cout << created->name << std::endl;
  std::cerr << "Created context \"" << created->name << "\" (" << created->host
            << "): use it with `berth context use " << created->name << "`\n";
  return kExitOk;
}

struct LsOptions {
  std::string format = "table";
  bool quiet = false;
};

// The name a command would use now, for the '*' of `ls` and for `show`.
std::string CurrentName(const ContextStore& store) {
  const std::string override_name = Env("BERTH_CONTEXT");
  if (!override_name.empty()) return override_name;
  absl::StatusOr<std::string> current = store.Current();
  return current.ok() ? *current : std::string();
}

int List(const LsOptions& o) {
  absl::StatusOr<ContextStore> store = Store();
  if (!store.ok()) return ReportError(store.status());
  absl::StatusOr<std::vector<Context>> contexts = store->List();
  if (!contexts.ok()) return ReportError(contexts.status());
  const std::string current = CurrentName(*store);
  if (o.quiet) {
    for (const Context& c : *contexts) std::cout << c.name << "\n";
  } else if (o.format == "json") {
    std::cout << ContextListJson(*contexts, current);
  } else {
    std::cout << FormatTable(ContextTableRows(*contexts, current));
  }
  return kExitOk;
}

int Use(const std::string& name) {
  absl::StatusOr<ContextStore> store = Store();
  if (!store.ok()) return ReportError(store.status());
  if (absl::Status s = store->Use(name); !s.ok()) return ReportError(s);
  std::cout << name << std::endl;
  std::cerr << "Current context is now \"" << name << "\"\n";
  for (const char* variable : {"BERTH_HOST", "BERTH_CONTEXT"}) {
    if (!Env(variable).empty()) {
      std::cerr << "Warning: " << variable << " is set and overrides the current context\n";
    }
  }
  return kExitOk;
}

struct RmOptions {
  std::vector<std::string> names;
  bool force = false;
};

int Remove(const RmOptions& o) {
  absl::StatusOr<ContextStore> store = Store();
  if (!store.ok()) return ReportError(store.status());
  int rc = kExitOk;
  for (const std::string& name : o.names) {
    if (absl::Status s = store->Remove(name, o.force); !s.ok()) {
      rc = ReportError(s);
      continue;
    }
    std::cout << name << std::endl;
  }
  return rc;
}

int Inspect(const std::vector<std::string>& names) {
  absl::StatusOr<ContextStore> store = Store();
  if (!store.ok()) return ReportError(store.status());
  std::vector<Context> found;
  int rc = kExitOk;
  if (names.empty()) {
    absl::StatusOr<Context> context = store->Resolve(Env("BERTH_CONTEXT"));
    if (!context.ok()) return ReportError(context.status());
    found.push_back(*std::move(context));
  }
  for (const std::string& name : names) {
    absl::StatusOr<Context> context = store->Get(name);
    if (!context.ok()) {
      rc = ReportError(context.status());
      continue;
    }
    found.push_back(*std::move(context));
  }
  if (!found.empty() || rc == kExitOk) std::cout << ContextInspectJson(found);
  return rc;
}

int Show() {
  absl::StatusOr<ContextStore> store = Store();
  if (!store.ok()) return ReportError(store.status());
  absl::StatusOr<Context> context = store->Resolve(Env("BERTH_CONTEXT"));
  if (!context.ok()) return ReportError(context.status());
  std::cout << context->name << std::endl;
  return kExitOk;
}

}  // namespace

void AddContextCommands(CLI::App& app, CommandTable& table) {
  CLI::App* context = app.add_subcommand(
      "context", "Manage contexts: named agent addresses with their TLS files");
  context->require_subcommand(1);
  {
    auto o = std::make_shared<CreateOptions>();
    CLI::App* cmd = context->add_subcommand("create", "Create a context");
    cmd->add_option("NAME", o->name, "Context name ([a-zA-Z0-9][a-zA-Z0-9_.+-]*)")->required();
    cmd->add_option("-H,--host", o->host, "Agent address: tcp://HOST:PORT or unix:///path")
        ->required();
    cmd->add_option("--tlscacert", o->tls.ca, "CA certificate that signs the agent's (PEM)");
    cmd->add_option("--tlscert", o->tls.cert, "Client certificate (PEM)");
    cmd->add_option("--tlskey", o->tls.key, "Client private key (PEM)");
    cmd->add_option("--description", o->description, "Description of the context");
    table.AddLocal(cmd, [o] { return Create(*o); });
  }
  {
    auto o = std::make_shared<LsOptions>();
    CLI::App* cmd = context->add_subcommand("ls", "List contexts (* marks the current one)");
    cmd->alias("list");
    cmd->add_option("--format", o->format, "Output format: table or json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    cmd->add_flag("-q,--quiet", o->quiet, "Only print the names");
    table.AddLocal(cmd, [o] { return List(*o); });
  }
  {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd = context->add_subcommand(
        "use", "Make a context the current one (\"default\": the local socket)");
    cmd->add_option("NAME", *name, "Context name")->required();
    table.AddLocal(cmd, [name] { return Use(*name); });
  }
  {
    auto o = std::make_shared<RmOptions>();
    CLI::App* cmd = context->add_subcommand("rm", "Remove contexts");
    cmd->alias("remove");
    cmd->add_option("NAME", o->names, "Context names")->required();
    cmd->add_flag("-f,--force", o->force,
                  "Also remove the current context (\"default\" becomes current)");
    table.AddLocal(cmd, [o] { return Remove(*o); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = context->add_subcommand(
        "inspect", "Show contexts as JSON (without a name: the one in use)");
    cmd->add_option("NAME", *names, "Context names");
    table.AddLocal(cmd, [names] { return Inspect(*names); });
  }
  {
    CLI::App* cmd = context->add_subcommand("show", "Print the name of the context in use");
    table.AddLocal(cmd, [] { return Show(); });
  }
}

}  // namespace berth::cli
