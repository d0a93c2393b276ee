// berth-runtime: an OCI runtime with runc's command line, over runtime/lifecycle.
#include <CLI/CLI.hpp>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"
#include "runtime/runtime_cli/commands.h"

namespace berth::runtime_cli {

void Invocation::Fail(const absl::Status& status) {
  if (status.ok()) return;
  log.Error(status.message());
  exit_code = 1;
}

bool Invocation::Prepare() {
  log = RuntimeLog(log_path, log_format == "json", debug);
  if (rootless == "true") {
    Fail(absl::FailedPreconditionError(
        "--rootless=true: rootless containers are not supported; run berth-runtime as root"));
    return false;
  }
  return true;
}

absl::StatusOr<lifecycle::Runtime> Invocation::Runtime() {
  if (systemd_cgroup) {
    return absl::FailedPreconditionError(
        "--systemd-cgroup: this host has no systemd to manage cgroups; berth-runtime drives "
        "cgroupfs (give linux.cgroupsPath as a path)");
  }
  if (!cgroups_) {
    ASSIGN_OR_RETURN(cgroups_, DetectCgroupDriver());
    store_ = std::make_unique<lifecycle::StateStore>(root);
  }
  return lifecycle::Runtime{*store_, *cgroups_};
}

int Main(int argc, char** argv) {
  Invocation inv;
  CLI::App app("berth-runtime: an OCI container runtime with runc's command line", "berth-runtime");
  app.set_version_flag("-v,--version", absl::StrCat("berth-runtime version ", BERTH_VERSION, "\nspec: 1.0.2"));
  app.add_option("--root", inv.root, "where container state is kept")->capture_default_str();
  app.add_option("--log", inv.log_path, "also write errors (and --debug messages) to this file");
  app.add_option("--log-format", inv.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--debug", inv.debug, "log debug messages to --log");
  app.add_flag("--systemd-cgroup", inv.systemd_cgroup, "manage cgroups with systemd (not available)");
  app.add_option("--rootless", inv.rootless, "true, false or auto (berth-runtime runs as root)")
      ->check(CLI::IsMember({"true", "false", "auto"}));
  // containerd and conmon put global flags before the command; people put them anywhere.
  app.fallthrough();
  app.require_subcommand(1);
  AddLifecycleCommands(app, inv);
  AddInspectionCommands(app, inv);
  AddSpecCommand(app, inv);
  AddExecCommand(app, inv);
  AddFeaturesCommand(app, inv);
  AddUpdateCommand(app, inv);
  AddEventsCommand(app, inv);
  try {
    std::vector<std::string> args = SeparateExecCommand(std::vector<std::string>(argv, argv + argc));
    // CLI11 takes a reversed vector without argv[0].
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    app.parse(reversed);
  } catch (const CLI::Success&) {
    return inv.exit_code;
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 1;
  }
  return inv.exit_code;
}

}  // namespace berth::runtime_cli

int main(int argc, char** argv) { return berth::runtime_cli::Main(argc, argv); }
