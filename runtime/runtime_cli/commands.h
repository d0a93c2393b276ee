// berth-runtime's commands, registered on one CLI11 app. Each records the exit code it wants
// in the shared Invocation; errors are reported through its RuntimeLog.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/lifecycle/lifecycle.h"
#include "runtime/runtime_cli/runtime_log.h"

namespace berth::runtime_cli {

struct Invocation {
  std::string root = "/run/berth-runtime";
  std::string log_path;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";

  RuntimeLog log;
  int exit_code = 0;

  // First in every command: the log from the flags, and flags that refuse to run.
  bool Prepare();
  // Reports `status` (if not OK) and sets the exit code 1.
  void Fail(const absl::Status& status);
  // The state store and cgroup driver, made on first use (spec and features need neither).
  absl::StatusOr<lifecycle::Runtime> Runtime();

 private:
  std::unique_ptr<lifecycle::StateStore> store_;
  std::unique_ptr<CgroupDriver> cgroups_;
};

void AddLifecycleCommands(CLI::App& app, Invocation& inv);  // create start run state kill delete
void AddInspectionCommands(CLI::App& app, Invocation& inv);  // list ps pause resume
void AddSpecCommand(CLI::App& app, Invocation& inv);        // spec
void AddExecCommand(CLI::App& app, Invocation& inv);        // exec
void AddFeaturesCommand(CLI::App& app, Invocation& inv);    // features
void AddUpdateCommand(CLI::App& app, Invocation& inv);      // update
void AddEventsCommand(CLI::App& app, Invocation& inv);      // events

// runc's `exec [flags] ID COMMAND [ARGS...]`: the command's own flags must not be read as
// ours, so "--" is put before the id (argv as given, with argv[0]).
std::vector<std::string> SeparateExecCommand(std::vector<std::string> args);

}  // namespace berth::runtime_cli
