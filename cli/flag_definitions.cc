#include "cli/flag_definitions.h"

namespace berth::cli {

CLI::Option* AddRepeatable(CLI::App* command, const std::string& name,
                           std::vector<std::string>& into, const std::string& help) {
  return command->add_option(name, into, help)->allow_extra_args(false)->type_size(1);
}

void DefineContainerFlags(CLI::App* cmd, ContainerFlags& f, bool is_run) {
  // -h is --hostname, as in docker; help stays on --help.
  cmd->set_help_flag("--help", "Print usage");
  cmd->add_option("--name", f.name, "Assign a name to the container");
  if (is_run) {
    cmd->add_flag("-d,--detach", f.detach, "Run in the background and print the container id");
    cmd->add_option("--detach-keys", f.detach_keys, "Keys that detach from -it, leaving it running (ctrl-p,ctrl-q)");
    AddRepeatable(cmd, "-a,--attach", f.attach, "Attach only these streams: stdin, stdout, stderr (default: all)");
  }
  cmd->add_flag("--rm", f.auto_remove, "Remove the container when it exits");
  cmd->add_flag("-i,--interactive", f.interactive, "Keep stdin open and attach it");
  cmd->add_flag("-t,--tty", f.tty, "Allocate a pseudo-terminal");
  AddRepeatable(cmd, "-e,--env", f.env,
                "Set an environment variable: KEY=VALUE, or KEY to pass this shell's value");
  cmd->add_option("-w,--workdir", f.workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", f.user, "User: uid[:gid] or name[:group]");
  cmd->add_option("-h,--hostname", f.hostname, "Container host name");
  cmd->add_option("-m,--memory", f.memory, "Memory limit: bytes or a k, m, g suffix (64m, 1g)");
  cmd->add_option("--cpus", f.cpus, "Number of CPUs (0.5 is half a CPU)");
  cmd->add_option("-c,--cpu-shares", f.cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--pids-limit", f.pids_limit, "Maximum number of processes (-1: unlimited)");
  cmd->add_option("--network,--net", f.network,
                  "Network: bridge (default), none, host, container:<name|id>, or a network's "
                  "name");
  cmd->add_option("--ipc", f.ipc, "IPC namespace: its own (default), host, or container:<name|id>");
  cmd->add_option("--pid", f.pid, "PID namespace: its own (default), host, or container:<name|id>");
  cmd->add_option("--uts", f.uts, "UTS namespace (host name): its own (default), host, or container:<name|id>");
  cmd->add_option("--cgroup-parent", f.cgroup_parent,
                  "Cgroup to put the container's cgroup in, below the agent's cgroup parent (a/b)");
  AddRepeatable(cmd, "-p,--publish", f.publish,
                "Publish a port: [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]");
  AddRepeatable(cmd, "--add-host", f.add_hosts, "Add a line to /etc/hosts: NAME:IP");
  AddRepeatable(cmd, "--dns", f.dns, "Nameserver for /etc/resolv.conf");
  AddRepeatable(cmd, "--dns-search", f.dns_search, "Search domain for /etc/resolv.conf");
  AddRepeatable(cmd, "--dns-option", f.dns_options, "Resolver option for /etc/resolv.conf (ndots:5, edns0, ...)");
  AddRepeatable(cmd, "--network-alias", f.network_aliases,
                "Another name the container answers to on its network's resolver (user-made networks)");
  AddRepeatable(cmd, "-v,--volume", f.volumes,
                "Mount a volume NAME:DST, a node path /SRC:DST or ./SRC:DST, or an anonymous volume DST; "
                "options after a third colon: ro, rw, nocopy, idmap");
  AddRepeatable(cmd, "--mount", f.mounts,
                "Mount: type=bind|volume|tmpfs,src=...,dst=...[,ro][,bind-propagation=...]"
                "[,tmpfs-size=64m][,tmpfs-mode=1770][,volume-nocopy]");
  AddRepeatable(cmd, "-l,--label", f.labels, "Set a label: key=value");
  AddRepeatable(cmd, "--env-file", f.env_files, "Read environment variables from a file (KEY=VALUE lines)");
  AddRepeatable(cmd, "--label-file", f.label_files, "Read labels from a file (key=value lines)");
  cmd->add_option("--restart", f.restart, "Restart policy: no, on-failure[:N], always, unless-stopped");
  cmd->add_option("--health-cmd", f.health_cmd, "Command to run (with /bin/sh -c) to check health");
  cmd->add_option("--health-interval", f.health_interval, "Time between health checks (e.g. 30s; default 30s)");
  cmd->add_option("--health-timeout", f.health_timeout, "Longest a health check may run (default 30s)");
  cmd->add_option("--health-retries", f.health_retries, "Failures in a row that make it unhealthy (default 3)");
  cmd->add_option("--health-start-period", f.health_start_period,
                  "Time after a start in which failures do not count (e.g. 10s)");
  cmd->add_option("--health-on-failure", f.health_on_failure, "Once unhealthy: none (default), kill, restart");
  cmd->add_flag("--no-healthcheck", f.no_healthcheck, "Disable the image's HEALTHCHECK");
  cmd->add_option("--stop-signal", f.stop_signal, "Signal that stops the container (default: the image's, else SIGTERM)");
  cmd->add_option("--stop-timeout", f.stop_timeout, "Seconds stop waits before SIGKILL (default 10)");
  AddRepeatable(cmd, "--log-opt", f.log_opts, "Log rotation: max-size=10m, max-file=3 (default: the agent's)");
  cmd->add_option("--group-add", f.group_add, "Additional group id")
      ->allow_extra_args(false)
      ->type_size(1);
  cmd->add_option_function<std::string>(
      "--entrypoint", [&f](const std::string& value) { f.entrypoint = value; },
      "Override the image's entrypoint (\"\" clears it)");
  cmd->add_option("--pull", f.pull,
                  "Pull the image before creating: missing (when not on the node), always, never")
      ->check(CLI::IsMember({"missing", "always", "never"}))
      ->capture_default_str();
  SecurityFlags& s = f.security;
  AddRepeatable(cmd, "--security-opt", s.security_opts,
                "Security option: seccomp=PROFILE.json, seccomp=unconfined, no-new-privileges=false");
  AddRepeatable(cmd, "--cap-add", s.cap_add, "Add a capability (NET_RAW, SYS_PTRACE, ALL, ...)");
  AddRepeatable(cmd, "--cap-drop", s.cap_drop, "Drop a capability (CHOWN, ALL, ...)");
  cmd->add_flag("--privileged", s.privileged,
                "All capabilities, no seccomp, every device, writable /sys: no isolation of the node");
  cmd->add_option("--userns", s.userns, "User namespace: auto (own id range) or host")
      ->check(CLI::IsMember({"auto", "host"}));
  cmd->add_flag("--read-only", s.read_only, "Mount the container's root file system read-only");
  AddRepeatable(cmd, "--device", s.devices, "Add a node device: HOST[:CONTAINER][:rwm]");
  AddRepeatable(cmd, "--tmpfs", s.tmpfs, "Mount a tmpfs: DEST[:size=64m,mode=1777,...]");
  AddRepeatable(cmd, "--ulimit", s.ulimits, "Resource limit: NAME=SOFT[:HARD] (nofile=1024:2048)");
  AddRepeatable(cmd, "--sysctl", s.sysctls, "Namespaced kernel parameter: KEY=VALUE");
  cmd->add_option("--shm-size", s.shm_size, "Size of /dev/shm (64m)");
  cmd->add_flag("--init", s.init, "Run a tiny init as PID 1 that reaps zombies and forwards signals");
  cmd->add_option("image", f.image, "Image")->required();
  cmd->add_option("command", f.command, "Command and its arguments");
  cmd->positionals_at_end(true);
}

void DefineExecFlags(CLI::App* cmd, ExecFlags& f) {
  cmd->add_flag("-i,--interactive", f.interactive, "Attach stdin");
  cmd->add_flag("-t,--tty", f.tty, "Allocate a pseudo-terminal");
  cmd->add_flag("-d,--detach", f.detach, "Run the command in the background");
  AddRepeatable(cmd, "-e,--env", f.env,
                "Set an environment variable: KEY=VALUE, or KEY to pass this shell's value");
  AddRepeatable(cmd, "--env-file", f.env_files, "Read environment variables from a file (KEY=VALUE lines)");
  cmd->add_option("-w,--workdir", f.workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", f.user, "User: uid[:gid] or name[:group]");
  cmd->add_option("container", f.id, "Container id, id prefix or name")->required();
  cmd->add_option("command", f.command, "Command and its arguments")->required();
  cmd->positionals_at_end(true);
}

}  // namespace berth::cli
