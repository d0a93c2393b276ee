// list, ps, pause and resume.
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "runtime/base/file_util.h"
#include "runtime/runtime_cli/commands.h"

namespace berth::runtime_cli {

namespace {

std::string CommandLine(pid_t pid) {
  absl::StatusOr<std::string> raw = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!raw.ok()) return "";
  std::string text = absl::StrReplaceAll(*raw, {{std::string(1, '\0'), " "}});
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

void List(Invocation& inv, const std::string& format, bool quiet) {
  absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
  if (!rt.ok()) return inv.Fail(rt.status());
  std::vector<lifecycle::StateView> views = lifecycle::List(*rt);
  if (quiet) {
    for (const auto& v : views) std::cout << v.record.id << "\n";
    return;
  }
  if (format == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& v : views) {
      nlohmann::ordered_json entry = nlohmann::ordered_json::parse(lifecycle::StateJson(v.record, v.status, -1));
      if (!entry.contains("pid")) entry["pid"] = 0;
      entry["owner"] = "root";
      out.push_back(std::move(entry));
    }
    std::cout << out.dump() << "\n";
    return;
  }
  std::printf("%-24s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& v : views) {
    bool stopped = v.status == lifecycle::ContainerStatus::kStopped;
    std::printf("%-24s %-8d %-10s %-40s %-32s %s\n", v.record.id.c_str(), stopped ? 0 : v.record.pid,
                std::string(lifecycle::StatusName(v.status)).c_str(), v.record.bundle.c_str(),
                v.record.created.c_str(), "root");
  }
}

void Ps(Invocation& inv, const std::string& id, const std::string& format) {
  absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
  if (!rt.ok()) return inv.Fail(rt.status());
  absl::StatusOr<std::vector<pid_t>> pids = lifecycle::Processes(*rt, id);
  if (!pids.ok()) return inv.Fail(pids.status());
  if (format == "json") {
    std::cout << nlohmann::json(*pids).dump() << "\n";
    return;
  }
  std::printf("%-8s %s\n", "PID", "CMD");
  for (pid_t pid : *pids) std::printf("%-8d %s\n", pid, CommandLine(pid).c_str());
}

}  // namespace

void AddInspectionCommands(CLI::App& app, Invocation& inv) {
  struct ListArgs {
    std::string format = "table";
    bool quiet = false;
  };
  auto list_args = std::make_shared<ListArgs>();
  CLI::App* list = app.add_subcommand("list", "list the containers");
  list->alias("ls");
  list->add_option("-f,--format", list_args->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  list->add_flag("-q,--quiet", list_args->quiet, "ids only");
  list->callback([&inv, list_args] {
    if (inv.Prepare()) List(inv, list_args->format, list_args->quiet);
  });

  struct PsArgs {
    std::string id;
    std::string format = "table";
  };
  auto ps_args = std::make_shared<PsArgs>();
  CLI::App* ps = app.add_subcommand("ps", "the processes running in a container");
  ps->add_option("id", ps_args->id)->required();
  ps->add_option("-f,--format", ps_args->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  ps->callback([&inv, ps_args] {
    if (inv.Prepare()) Ps(inv, ps_args->id, ps_args->format);
  });

  for (bool pause : {true, false}) {
    auto id = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand(pause ? "pause" : "resume",
                                       pause ? "freeze every process of a container" : "thaw a paused container");
    cmd->add_option("id", *id)->required();
    cmd->callback([&inv, id, pause] {
      if (!inv.Prepare()) return;
      absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
      if (!rt.ok()) return inv.Fail(rt.status());
      inv.Fail(pause ? lifecycle::Pause(*rt, *id) : lifecycle::Resume(*rt, *id));
    });
  }
}

}  // namespace berth::runtime_cli
