// `run`/`create` and `exec` flags, as typed, and their translation into berth.v1 requests.
// Pure: the environment and working directory come in as arguments so tests can pin them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"
#include "cli/security_flags.h"

namespace berth::cli {

// Looks up a variable in the CLI's own environment (for `-e KEY` without a value).
using EnvLookup = std::function<std::optional<std::string>(const std::string& key)>;

// EnvLookup backed by getenv().
EnvLookup ProcessEnvLookup();

struct ContainerFlags {
  std::string name;
  bool detach = false;       // run -d
  std::string detach_keys;   // --detach-keys (default ctrl-p,ctrl-q)
  std::vector<std::string> attach;  // run -a stdin|stdout|stderr: the streams to attach
  bool auto_remove = false;  // --rm
  bool interactive = false;  // -i
  bool tty = false;          // -t
  std::vector<std::string> env;      // -e KEY=VAL or -e KEY
  std::vector<std::string> env_files;    // --env-file: read first, -e overrides
  std::vector<std::string> label_files;  // --label-file: read first, --label overrides
  std::vector<std::string> volumes;  // -v SRC:DST[:ro|rw], NAME:DST, or DST (anonymous)
  std::vector<std::string> mounts;   // --mount type=bind|volume|tmpfs,src=,dst=,...
  std::vector<std::string> labels;   // --label k=v or k
  std::vector<std::string> log_opts;  // --log-opt max-size=10m | max-file=3
  std::string restart;                // --restart no|on-failure[:N]|always|unless-stopped
  std::string health_cmd;             // --health-cmd: run with /bin/sh -c in the container
  std::string health_interval;        // --health-interval 30s (Go duration syntax)
  std::string health_timeout;
  std::string health_start_period;
  std::optional<int> health_retries;
  std::string health_on_failure;      // none|kill|restart
  bool no_healthcheck = false;        // turns off the image's HEALTHCHECK
  std::string stop_signal;            // --stop-signal SIGQUIT
  std::optional<int> stop_timeout;    // --stop-timeout seconds (negative: wait forever)
  std::vector<uint32_t> group_add;   // --group-add GID
  std::string workdir;
  std::string user;
  std::string hostname;
  std::string memory;  // "" means unlimited
  std::string cpus;    // "" means unlimited
  int64_t cpu_shares = 0;
  int64_t pids_limit = 0;  // 0 or negative: unlimited
  // "" (the agent's default, bridge), bridge, none, host, container:<ref> or a network name.
  std::string network;
  std::string ipc, pid, uts;  // --ipc, --pid, --uts: "", host or container:<ref>
  std::vector<std::string> publish;     // -p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]
  std::vector<std::string> add_hosts;   // --add-host name:ip
  std::vector<std::string> dns;         // --dns IP
  std::vector<std::string> dns_search;  // --dns-search DOMAIN
  std::vector<std::string> dns_options;  // --dns-option OPT (checked by the agent)
  std::string cgroup_parent;             // --cgroup-parent a/b (checked by the agent)
  std::vector<std::string> network_aliases;  // --network-alias NAME
  std::optional<std::string> entrypoint;  // set when --entrypoint was given, even as ""
  std::string pull = "missing";           // --pull missing|always|never (ParsePullPolicy)
  SecurityFlags security;
  std::string image;
  std::vector<std::string> command;  // everything after IMAGE
};

absl::StatusOr<berth::v1::ContainerConfig> BuildContainerConfig(const ContainerFlags& flags,
                                                                const EnvLookup& env,
                                                                const std::string& cwd);

struct ExecFlags {
  bool interactive = false;
  bool tty = false;
  bool detach = false;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::string workdir;
  std::string user;
  std::string id;
  std::vector<std::string> command;
};

// The ProcessSpec of an exec; terminal_size is left for the caller, who knows the terminal.
absl::StatusOr<berth::v1::ProcessSpec> BuildProcessSpec(const ExecFlags& flags,
                                                       const EnvLookup& env);

// "KEY=VAL" stays; "KEY" becomes "KEY=<value from env>" or is dropped when unset (docker).
absl::StatusOr<std::vector<std::string>> ResolveEnv(const std::vector<std::string>& entries,
                                                    const EnvLookup& env);

// "SRC:DST[:OPTS]" with OPTS a comma list of ro, rw and idmap; a relative SRC is made
// absolute against `cwd`.
// --restart's value: no, on-failure[:N], always or unless-stopped.
absl::StatusOr<berth::v1::RestartPolicy> ParseRestartPolicy(std::string_view text);

// --health-cmd and friends (or --no-healthcheck) into config.health_check.
absl::Status ApplyHealthFlags(const ContainerFlags& flags, berth::v1::ContainerConfig& config);

// "k=v" -> {k, v}; "k" -> {k, ""}.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& entries);

}  // namespace berth::cli
