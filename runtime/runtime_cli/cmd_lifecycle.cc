// create, start, run, state, kill and delete.
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "runtime/base/signal_names.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/container.h"
#include "runtime/runtime_cli/commands.h"
#include "runtime/runtime_cli/foreground.h"

namespace berth::runtime_cli {

namespace {

struct CreateFlags {
  lifecycle::CreateRequest request;
  bool no_new_keyring = false;
  bool detach = false;  // run only
  bool keep = false;    // run only
};

void AddCreateFlags(CLI::App* cmd, CreateFlags& f) {
  cmd->add_option("id", f.request.id, "the container's id")->required();
  cmd->add_option("-b,--bundle", f.request.bundle, "the bundle directory (default: the current one)");
  cmd->add_option("--pid-file", f.request.pid_file, "write the container's init pid here");
  cmd->add_option("--console-socket", f.request.console_socket,
                  "a Unix socket that receives the terminal's pty master");
  cmd->add_option("--preserve-fds", f.request.preserve_fds,
                  "pass this many extra fds (from fd 3) on to the container's process");
  cmd->add_flag("--no-pivot", f.request.no_pivot,
                "move the rootfs over / and chroot instead of pivot_root (for a root on an initramfs; weaker)");
  // berth-runtime never makes a session keyring, so this is always the case.
  cmd->add_flag("--no-new-keyring", f.no_new_keyring, "do not make a session keyring (always so)");
}

absl::Status CreateCommand(Invocation& inv, CreateFlags& f) {
  if (f.request.bundle.empty()) f.request.bundle = ".";
  ASSIGN_OR_RETURN(lifecycle::Runtime rt, inv.Runtime());
  absl::StatusOr<lifecycle::ContainerRecord> record = lifecycle::Create(rt, f.request);
  if (record.ok()) inv.log.Debug(absl::StrCat("created ", f.request.id, " pid ", record->pid));
  return record.status();
}

// run in the foreground: this process is init's parent, so it waits for it, passes signals
// on, removes the container and exits with its code.
absl::Status RunCommand(Invocation& inv, CreateFlags& f) {
  if (f.request.bundle.empty()) f.request.bundle = ".";
  ASSIGN_OR_RETURN(lifecycle::Runtime rt, inv.Runtime());
  std::optional<SignalForwarding> forwarding;
  if (!f.detach) forwarding.emplace();
  ASSIGN_OR_RETURN(lifecycle::ContainerRecord record, lifecycle::Create(rt, f.request));
  absl::Status started = lifecycle::Start(rt, f.request.id);
  if (!started.ok() && !absl::IsAborted(started)) {
    lifecycle::Delete(rt, f.request.id, /*force=*/true).IgnoreError();
    return started;
  }
  inv.Fail(started);  // a failed poststart hook: reported, the container runs
  if (f.detach) return absl::OkStatus();

  ASSIGN_OR_RETURN(inv.exit_code, forwarding->Wait(record.pid));
  if (!f.keep) {
    absl::Status deleted = lifecycle::Delete(rt, f.request.id, /*force=*/true);
    if (!deleted.ok()) inv.log.Warning(deleted.message());
  }
  return absl::OkStatus();
}

}  // namespace

void AddLifecycleCommands(CLI::App& app, Invocation& inv) {
  auto create_flags = std::make_shared<CreateFlags>();
  CLI::App* create = app.add_subcommand("create", "create a container, held before its process starts");
  AddCreateFlags(create, *create_flags);
  create->callback([&inv, create_flags] {
    if (inv.Prepare()) inv.Fail(CreateCommand(inv, *create_flags));
  });

  auto run_flags = std::make_shared<CreateFlags>();
  CLI::App* run = app.add_subcommand("run", "create and start a container (and wait for it)");
  AddCreateFlags(run, *run_flags);
  run->add_flag("-d,--detach", run_flags->detach, "return once the container runs");
  run->add_flag("--keep", run_flags->keep, "do not delete the container after it exits");
  run->callback([&inv, run_flags] {
    if (!inv.Prepare()) return;
    absl::Status st = RunCommand(inv, *run_flags);
    if (!st.ok()) inv.Fail(st);
  });

  auto start_id = std::make_shared<std::string>();
  CLI::App* start = app.add_subcommand("start", "start the process of a created container");
  start->add_option("id", *start_id)->required();
  start->callback([&inv, start_id] {
    if (!inv.Prepare()) return;
    absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
    inv.Fail(rt.ok() ? lifecycle::Start(*rt, *start_id) : rt.status());
  });

  auto state_id = std::make_shared<std::string>();
  CLI::App* state = app.add_subcommand("state", "print a container's state as JSON");
  state->add_option("id", *state_id)->required();
  state->callback([&inv, state_id] {
    if (!inv.Prepare()) return;
    absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
    if (!rt.ok()) return inv.Fail(rt.status());
    absl::StatusOr<lifecycle::StateView> view = lifecycle::State(*rt, *state_id);
    if (!view.ok()) return inv.Fail(view.status());
    std::cout << lifecycle::StateJson(view->record, view->status) << "\n";
  });

  struct KillArgs {
    std::string id;
    std::string signal = "SIGTERM";
    bool all = false;
  };
  auto kill_args = std::make_shared<KillArgs>();
  CLI::App* kill = app.add_subcommand("kill", "send a signal to a container's init (or all its processes)");
  kill->add_option("id", kill_args->id)->required();
  kill->add_option("signal", kill_args->signal, "name or number (default SIGTERM)");
  kill->add_flag("-a,--all", kill_args->all, "signal every process in the container");
  kill->callback([&inv, kill_args] {
    if (!inv.Prepare()) return;
    absl::StatusOr<int> signo = ParseSignal(kill_args->signal);
    if (!signo.ok()) return inv.Fail(signo.status());
    absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
    inv.Fail(rt.ok() ? lifecycle::Kill(*rt, kill_args->id, *signo, kill_args->all) : rt.status());
  });

  struct DeleteArgs {
    std::string id;
    bool force = false;
  };
  auto delete_args = std::make_shared<DeleteArgs>();
  CLI::App* del = app.add_subcommand("delete", "delete a stopped container");
  del->add_option("id", delete_args->id)->required();
  del->add_flag("-f,--force", delete_args->force, "kill it first if it still runs");
  del->callback([&inv, delete_args] {
    if (!inv.Prepare()) return;
    absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
    if (!rt.ok()) return inv.Fail(rt.status());
    absl::Status st = lifecycle::Delete(*rt, delete_args->id, delete_args->force);
    // runc: deleting what is not there, with --force, succeeds.
    if (absl::IsNotFound(st) && delete_args->force) return;
    inv.Fail(st);
  });
}

}  // namespace berth::runtime_cli
