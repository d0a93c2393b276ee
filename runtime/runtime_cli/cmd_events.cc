// events: a container's resource use as JSON lines (runc's {"type","id","data"}), once with
// --stats or every --interval until it stops, plus an "oom" event when the OOM killer struck.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "runtime/base/status_macros.h"
#include "runtime/runtime_cli/commands.h"

namespace berth::runtime_cli {

namespace {

struct EventsFlags {
  std::string id;
  bool stats = false;
  std::string interval = "5s";
};

nlohmann::ordered_json StatsEvent(const std::string& id, const CgroupStats& s) {
  return {{"type", "stats"},
          {"id", id},
          {"data",
           {{"memory", {{"usage", {{"usage", s.memory_usage_bytes}}}}},
            {"pids", {{"current", s.pids_current}}}}}};
}

absl::Status Events(Invocation& inv, const EventsFlags& f) {
  absl::Duration interval;
  if (!absl::ParseDuration(f.interval, &interval) || interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("--interval ", f.interval, ": give a duration such as 5s"));
  }
  ASSIGN_OR_RETURN(lifecycle::Runtime rt, inv.Runtime());
  uint64_t ooms_seen = 0;
  bool first = true;
  for (;;) {
    ASSIGN_OR_RETURN(lifecycle::StateView view, lifecycle::State(rt, f.id));
    if (view.status == lifecycle::ContainerStatus::kStopped) {
      if (first) {
        return absl::FailedPreconditionError(absl::StrCat("container ", f.id, " is not running"));
      }
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(CgroupStats stats, rt.cgroups.Stats(view.record.cgroups_path));
    if (!first && stats.oom_kills > ooms_seen) {
      std::cout << nlohmann::ordered_json{{"type", "oom"}, {"id", f.id}}.dump() << std::endl;
    }
    ooms_seen = stats.oom_kills;
    first = false;
    // One line each, flushed: callers read it as a stream.
    std::cout << StatsEvent(f.id, stats).dump() << std::endl;
    if (f.stats) return absl::OkStatus();
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(interval));
  }
}

}  // namespace

void AddEventsCommand(CLI::App& app, Invocation& inv) {
  auto f = std::make_shared<EventsFlags>();
  CLI::App* events = app.add_subcommand("events", "a container's resource use (and OOM kills) as JSON lines");
  events->add_option("id", f->id)->required();
  events->add_flag("--stats", f->stats, "print the figures once and exit");
  events->add_option("--interval", f->interval, "how often, e.g. 5s")->capture_default_str();
  events->callback([&inv, f] {
    if (inv.Prepare()) inv.Fail(Events(inv, *f));
  });
}

}  // namespace berth::runtime_cli
