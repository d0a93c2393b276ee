// exec: one more process in a container, from flags or a process.json (--process).
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/container.h"
#include "runtime/runtime_cli/commands.h"
#include "runtime/runtime_cli/foreground.h"

namespace berth::runtime_cli {

namespace {

struct ExecFlags {
  std::string process_file;
  bool tty = false;
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;
  int preserve_fds = 0;
};

// "uid" or "uid:gid", numeric as runc takes them.
absl::Status ApplyUser(const std::string& text, spec::User& user) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  uint32_t uid = 0, gid = 0;
  if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &uid) ||
      (parts.size() == 2 && !absl::SimpleAtoi(parts[1], &gid))) {
    return absl::InvalidArgumentError(absl::StrCat("--user ", text, ": give uid or uid:gid (numbers)"));
  }
  user.uid = uid;
  if (parts.size() == 2) user.gid = gid;
  user.additional_gids.clear();
  return absl::OkStatus();
}

absl::StatusOr<spec::Process> BuildProcess(const lifecycle::Runtime& rt, const std::string& id,
                                           const std::vector<std::string>& command, const ExecFlags& f) {
  spec::Process process;
  if (!f.process_file.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(f.process_file));
    // Parsed as the "process" of a config, so that errors name its fields the usual way.
    absl::StatusOr<spec::Spec> wrapped = spec::ParseSpec(absl::StrCat("{\"process\": ", text, "}"));
    if (!wrapped.ok()) return Annotate(wrapped.status(), absl::StrCat("--process ", f.process_file));
    process = wrapped->process;
    if (process.args.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--process ", f.process_file, ": process.args is empty"));
    }
  } else {
    // Like runc: the container's own process (env, cwd, user, capabilities, rlimits,
    // noNewPrivileges) with the command and flags on top.
    ASSIGN_OR_RETURN(process, lifecycle::ContainerProcess(rt, id));
    if (command.empty()) return absl::InvalidArgumentError("exec: give a command (or --process FILE)");
    process.args = command;
    process.terminal = f.tty;
    process.console_size.reset();
  }
  if (!f.cwd.empty()) process.cwd = f.cwd;
  process.env.insert(process.env.end(), f.env.begin(), f.env.end());
  if (!f.user.empty()) RETURN_IF_ERROR(ApplyUser(f.user, process.user));
  if (f.tty) process.terminal = true;
  return process;
}

absl::Status ExecCommand(Invocation& inv, const std::vector<std::string>& words, const ExecFlags& f) {
  if (words.empty()) return absl::InvalidArgumentError("exec: give a container id");
  const std::string& id = words[0];
  std::vector<std::string> command(words.begin() + 1, words.end());
  ASSIGN_OR_RETURN(lifecycle::Runtime rt, inv.Runtime());
  ASSIGN_OR_RETURN(spec::Process process, BuildProcess(rt, id, command, f));
  lifecycle::ExecRequest request{id, std::move(process), f.console_socket, f.pid_file, f.preserve_fds,
                                 f.detach};
  std::optional<SignalForwarding> forwarding;
  if (!f.detach) forwarding.emplace();
  ASSIGN_OR_RETURN(lifecycle::ExecStarted started, lifecycle::Exec(rt, request));
  if (f.detach) return absl::OkStatus();
  // Our child: the signals we get are passed on to it.
  ASSIGN_OR_RETURN(inv.exit_code, forwarding->Wait(started.helper));
  return absl::OkStatus();
}

}  // namespace

void AddExecCommand(CLI::App& app, Invocation& inv) {
  auto f = std::make_shared<ExecFlags>();
  CLI::App* exec = app.add_subcommand("exec", "run one more process in a container: exec [flags] ID [COMMAND...]");
  exec->add_option("-p,--process", f->process_file, "a process.json (OCI process object) to run");
  exec->add_flag("-t,--tty", f->tty, "give the process a terminal (sent to --console-socket)");
  exec->add_flag("-d,--detach", f->detach, "return once the process runs");
  exec->add_option("--pid-file", f->pid_file, "write the process's pid here");
  exec->add_option("--console-socket", f->console_socket, "a Unix socket that receives the pty master");
  exec->add_option("--cwd", f->cwd, "working directory inside the container");
  exec->add_option("-e,--env", f->env, "KEY=VALUE to add (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  exec->add_option("-u,--user", f->user, "uid[:gid]");
  exec->add_option("--preserve-fds", f->preserve_fds, "pass this many extra fds (from fd 3) on");
  // The id and the command (its flags too: SeparateExecCommand puts "--" before the id).
  auto words = std::make_shared<std::vector<std::string>>();
  exec->add_option("id-and-command", *words, "the container id, then the command and its arguments");
  exec->callback([&inv, f, words] {
    if (!inv.Prepare()) return;
    absl::Status st = ExecCommand(inv, *words, *f);
    if (!st.ok()) inv.Fail(st);
  });
}

std::vector<std::string> SeparateExecCommand(std::vector<std::string> args) {
  static const std::set<std::string> kTakesValue = {"-p", "--process", "--pid-file", "--console-socket", "--cwd",
                                                     "-e", "--env", "-u", "--user", "--preserve-fds",
                                                     "--root", "--log", "--log-format", "--rootless"};
  size_t i = 1;
  // Global flags, then the command name.
  while (i < args.size() && args[i] != "exec") {
    if (args[i].rfind("-", 0) != 0) return args;  // another command
    if (kTakesValue.count(args[i]) != 0) ++i;
    ++i;
  }
  for (++i; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return args;
    if (a.rfind("-", 0) != 0) {
      args.insert(args.begin() + static_cast<long>(i), "--");
      return args;
    }
    if (kTakesValue.count(a) != 0) ++i;
  }
  return args;
}

}  // namespace berth::runtime_cli
