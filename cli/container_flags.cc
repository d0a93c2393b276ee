#include "cli/container_flags.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/human_format.h"
#include "cli/env_file.h"
#include "cli/mount_flags.h"
#include "cli/network_flags.h"
#include "cli/units.h"
#include "runtime/base/signal_names.h"

namespace berth::cli {
namespace {

}  // namespace

EnvLookup ProcessEnvLookup() {
  return [](const std::string& key) -> std::optional<std::string> {
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<std::vector<std::string>> ResolveEnv(const std::vector<std::string>& entries,
                                                    const EnvLookup& env) {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const std::string& entry : entries) {
    const size_t eq = entry.find('=');
    if (eq == 0 || entry.empty()) {
      return absl::InvalidArgumentError("invalid environment variable '" + entry +
                                        "': the name is empty");
    }
    if (eq != std::string::npos) {
      out.push_back(entry);
      continue;
    }
    if (std::optional<std::string> value = env(entry)) out.push_back(entry + "=" + *value);
  }
  return out;
}

absl::StatusOr<berth::v1::RestartPolicy> ParseRestartPolicy(std::string_view text) {
  berth::v1::RestartPolicy out;
  const size_t colon = text.find(':');
  const std::string policy(text.substr(0, colon));
  if (policy != "no" && policy != "on-failure" && policy != "always" && policy != "unless-stopped") {
    return absl::InvalidArgumentError(
        absl::StrCat("--restart ", Quote(text), ": want no, on-failure[:max-retries], always or unless-stopped"));
  }
  out.set_name(policy);
  if (colon != std::string_view::npos) {
    int retries = 0;
    if (policy != "on-failure" || !absl::SimpleAtoi(std::string(text.substr(colon + 1)), &retries) || retries < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--restart ", Quote(text), ": only on-failure takes a count, as on-failure:3"));
    }
    out.set_max_retries(retries);
  }
  return out;
}

namespace {

// Go's duration syntax, as docker's --health-* take it: "30s", "1m30s", "500ms".
absl::Status ParseHealthDuration(const char* flag, const std::string& text, int64_t* ms) {
  if (text.empty()) return absl::OkStatus();
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", Quote(text), ": want a duration such as 30s, 1m30s or 500ms"));
  }
  if (d > absl::ZeroDuration() && d < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", Quote(text), ": must be at least 1ms"));
  }
  *ms = absl::ToInt64Milliseconds(d);
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyHealthFlags(const ContainerFlags& flags, berth::v1::ContainerConfig& config) {
  const bool tuned = !flags.health_interval.empty() || !flags.health_timeout.empty() ||
                     !flags.health_start_period.empty() || flags.health_retries.has_value() ||
                     !flags.health_on_failure.empty();
  if (flags.no_healthcheck) {
    if (!flags.health_cmd.empty() || tuned) {
      return absl::InvalidArgumentError("--no-healthcheck conflicts with the --health-* options");
    }
    config.mutable_health_check()->add_test("NONE");
    return absl::OkStatus();
  }
  if (flags.health_cmd.empty() && !tuned) return absl::OkStatus();
  berth::v1::HealthCheck* check = config.mutable_health_check();
  if (!flags.health_cmd.empty()) {
    check->add_test("CMD-SHELL");
    check->add_test(flags.health_cmd);
  }
  int64_t ms = 0;
  if (absl::Status st = ParseHealthDuration("--health-interval", flags.health_interval, &ms); !st.ok()) return st;
  check->set_interval_ms(ms);
  ms = 0;
  if (absl::Status st = ParseHealthDuration("--health-timeout", flags.health_timeout, &ms); !st.ok()) return st;
  check->set_timeout_ms(ms);
  ms = 0;
  if (absl::Status st = ParseHealthDuration("--health-start-period", flags.health_start_period, &ms); !st.ok()) {
    return st;
  }
  check->set_start_period_ms(ms);
  if (flags.health_retries) {
    if (*flags.health_retries < 0) return absl::InvalidArgumentError("--health-retries must not be negative");
    check->set_retries(*flags.health_retries);
  }
  const std::string& action = flags.health_on_failure;
  if (!action.empty() && action != "none" && action != "kill" && action != "restart") {
    return absl::InvalidArgumentError(
        absl::StrCat("--health-on-failure ", Quote(action), ": want none, kill or restart"));
  }
  check->set_on_failure(action);
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& entries) {
  std::map<std::string, std::string> labels;
  for (const std::string& entry : entries) {
    const size_t eq = entry.find('=');
    const std::string key = entry.substr(0, eq);
    if (key.empty()) return absl::InvalidArgumentError("invalid label '" + entry + "': empty key");
    labels[key] = eq == std::string::npos ? std::string() : entry.substr(eq + 1);
  }
  return labels;
}

namespace {

// The entries of `files` (in order) followed by `given`: the flags override the files.
absl::StatusOr<std::vector<std::string>> WithFiles(const std::vector<std::string>& files,
                                                   const std::vector<std::string>& given, absl::string_view kind) {
  std::vector<std::string> out;
  for (const std::string& path : files) {
    absl::StatusOr<std::vector<std::string>> entries = ReadEnvFile(path, kind);
    if (!entries.ok()) return entries.status();
    out.insert(out.end(), entries->begin(), entries->end());
  }
  out.insert(out.end(), given.begin(), given.end());
  return out;
}

}  // namespace

absl::StatusOr<berth::v1::ContainerConfig> BuildContainerConfig(const ContainerFlags& flags,
                                                                const EnvLookup& env,
                                                                const std::string& cwd) {
  berth::v1::ContainerConfig config;
  if (flags.image.empty()) return absl::InvalidArgumentError("an image is required");
  config.set_name(flags.name);
  config.set_image(flags.image);
  if (flags.entrypoint.has_value()) {
    // docker semantics: one argv element; "" clears the image's entrypoint.
    config.add_entrypoint(*flags.entrypoint);
  }
  for (const std::string& arg : flags.command) config.add_command(arg);

  absl::StatusOr<std::vector<std::string>> env_entries = WithFiles(flags.env_files, flags.env, "env file");
  if (!env_entries.ok()) return env_entries.status();
  absl::StatusOr<std::vector<std::string>> resolved_env = ResolveEnv(*env_entries, env);
  if (!resolved_env.ok()) return resolved_env.status();
  for (std::string& e : *resolved_env) config.add_env(std::move(e));

  config.set_working_dir(flags.workdir);
  config.set_user(flags.user);
  config.set_hostname(flags.hostname);

  absl::StatusOr<std::vector<std::string>> label_entries = WithFiles(flags.label_files, flags.labels, "label file");
  if (!label_entries.ok()) return label_entries.status();
  absl::StatusOr<std::map<std::string, std::string>> labels = ParseLabels(*label_entries);
  if (!labels.ok()) return labels.status();
  config.mutable_labels()->insert(labels->begin(), labels->end());
  if (!flags.restart.empty()) {
    absl::StatusOr<berth::v1::RestartPolicy> policy = ParseRestartPolicy(flags.restart);
    if (!policy.ok()) return policy.status();
    *config.mutable_restart_policy() = *policy;
  }
  if (absl::Status st = ApplyHealthFlags(flags, config); !st.ok()) return st;
  if (!flags.stop_signal.empty()) {
    absl::StatusOr<int> signo = ParseSignal(flags.stop_signal);
    if (!signo.ok()) return absl::InvalidArgumentError(absl::StrCat("--stop-signal: ", signo.status().message()));
    config.set_stop_signal(flags.stop_signal);
  }
  if (flags.stop_timeout) config.set_stop_timeout_seconds(*flags.stop_timeout);
  for (const std::string& opt : flags.log_opts) {
    size_t eq = opt.find('=');
    const std::string key = opt.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
    if (key == "max-size") {
      absl::StatusOr<int64_t> bytes = ParseMemoryBytes(value);
      if (!bytes.ok() || *bytes <= 0) {
        return absl::InvalidArgumentError(absl::StrCat("--log-opt max-size: want a size such as 10m, got ", Quote(value)));
      }
      config.mutable_log()->set_max_size_bytes(*bytes);
    } else if (key == "max-file") {
      int files = 0;
      if (!absl::SimpleAtoi(value, &files) || files < 1) {
        return absl::InvalidArgumentError(absl::StrCat("--log-opt max-file: want a count of 1 or more, got ", Quote(value)));
      }
      config.mutable_log()->set_max_files(files);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--log-opt ", Quote(opt), ": unknown option; berth's log takes max-size and max-file"));
    }
  }

  berth::v1::Resources* resources = config.mutable_resources();
  if (!flags.memory.empty()) {
    absl::StatusOr<int64_t> bytes = ParseMemoryBytes(flags.memory);
    if (!bytes.ok()) return absl::InvalidArgumentError("--memory: " + std::string(bytes.status().message()));
    resources->set_memory_limit_bytes(*bytes);
  }
  if (!flags.cpus.empty()) {
    absl::StatusOr<int64_t> millis = ParseCpuMillis(flags.cpus);
    if (!millis.ok()) return absl::InvalidArgumentError("--cpus: " + std::string(millis.status().message()));
    resources->set_cpu_millis(*millis);
  }
  if (flags.cpu_shares < 0) return absl::InvalidArgumentError("--cpu-shares must not be negative");
  resources->set_cpu_shares(flags.cpu_shares);
  resources->set_pids_limit(flags.pids_limit > 0 ? flags.pids_limit : 0);

  for (const std::string& volume : flags.volumes) {
    absl::StatusOr<berth::v1::Mount> mount = ParseVolume(volume, cwd);
    if (!mount.ok()) return mount.status();
    *config.add_mounts() = *std::move(mount);
  }
  for (const std::string& spec : flags.mounts) {
    absl::StatusOr<berth::v1::Mount> mount = ParseMount(spec, cwd);
    if (!mount.ok()) return mount.status();
    *config.add_mounts() = *std::move(mount);
  }

  absl::StatusOr<std::string> network = NetworkModeFromFlag(flags.network);
  if (!network.ok()) return network.status();
  config.set_network(*network);
  config.set_ipc(flags.ipc);
  config.set_pid(flags.pid);
  config.set_uts(flags.uts);
  absl::StatusOr<std::vector<berth::v1::PortMapping>> ports = ParsePublishes(flags.publish);
  if (!ports.ok()) return ports.status();
  for (berth::v1::PortMapping& port : *ports) *config.add_ports() = std::move(port);
  for (const std::string& entry : flags.add_hosts) {
    if (absl::Status s = ValidateExtraHost(entry); !s.ok()) return s;
    config.add_extra_hosts(entry);
  }
  for (const std::string& server : flags.dns) {
    if (absl::Status s = ValidateDnsServer(server); !s.ok()) return s;
    config.add_dns(server);
  }
  for (const std::string& alias : flags.network_aliases) config.add_network_aliases(alias);
  for (const std::string& domain : flags.dns_search) {
    if (absl::Status s = ValidateDnsSearch(domain); !s.ok()) return s;
    config.add_dns_search(domain);
  }
  for (const std::string& option : flags.dns_options) config.add_dns_options(option);
  config.set_cgroup_parent(flags.cgroup_parent);

  config.set_tty(flags.tty);
  config.set_open_stdin(flags.interactive);
  for (uint32_t gid : flags.group_add) config.add_additional_gids(gid);
  config.set_auto_remove(flags.auto_remove);
  absl::Status security = ApplySecurityFlags(flags.security, config, [](const std::string& path) -> absl::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  });
  if (!security.ok()) return security;
  return config;
}

absl::StatusOr<berth::v1::ProcessSpec> BuildProcessSpec(const ExecFlags& flags,
                                                       const EnvLookup& env) {
  if (flags.command.empty()) return absl::InvalidArgumentError("exec needs a command");
  berth::v1::ProcessSpec spec;
  for (const std::string& arg : flags.command) spec.add_args(arg);
  absl::StatusOr<std::vector<std::string>> env_entries = WithFiles(flags.env_files, flags.env, "env file");
  if (!env_entries.ok()) return env_entries.status();
  absl::StatusOr<std::vector<std::string>> resolved_env = ResolveEnv(*env_entries, env);
  if (!resolved_env.ok()) return resolved_env.status();
  for (std::string& e : *resolved_env) spec.add_env(std::move(e));
  spec.set_working_dir(flags.workdir);
  spec.set_user(flags.user);
  spec.set_tty(flags.tty);
  spec.set_stdin(flags.interactive && !flags.detach);
  return spec;
}

}  // namespace berth::cli
