#include "agent/bundle.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/user_lookup.h"
#include "runtime/base/quote.h"

namespace berth::agent {

ContainerPaths ContainerPaths::For(const std::string& containers_dir, const std::string& id) {
  ContainerPaths p;
  p.dir = absl::StrCat(containers_dir, "/", id);
  p.bundle = p.dir + "/bundle";
  p.rootfs = p.dir + "/rootfs";
  p.upper = p.dir + "/upper";
  p.work = p.dir + "/work";
  p.log = p.dir + "/container.log";
  p.record = p.dir + "/container.json";
  p.hosts = p.dir + "/hosts";
  p.hostname = p.dir + "/hostname";
  p.resolv_conf = p.dir + "/resolv.conf";
  return p;
}

std::string HostnameFor(const v1::ContainerConfig& config, const std::string& id) {
  return config.hostname().empty() ? id.substr(0, 12) : config.hostname();
}

namespace {

// KEY=VALUE lists where later keys replace earlier ones, keeping first-seen order.
void MergeEnv(std::vector<std::string>& env, const std::string& entry) {
  std::string key = entry.substr(0, entry.find('='));
  for (auto& e : env) {
    if (e.substr(0, e.find('=')) == key) {
      e = entry;
      return;
    }
  }
  env.push_back(entry);
}

bool HasDotDot(const std::string& path) {
  return path == ".." || absl::StartsWith(path, "../") || absl::StrContains(path, "/../") ||
         absl::EndsWith(path, "/..");
}

absl::Status CheckMount(const v1::Mount& m, int index, bool user_namespace) {
  std::string field = absl::StrCat("mounts[", index, "]");
  if (m.source().empty() || m.source()[0] != '/' || HasDotDot(m.source())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".source must be an absolute host path without \"..\", got ", Quoted(m.source())));
  }
  if (m.destination().empty() || m.destination()[0] != '/' || HasDotDot(m.destination()) || m.destination() == "/") {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".destination must be an absolute container path other than / without \"..\", got ",
        Quoted(m.destination())));
  }
  struct stat st;
  if (::stat(m.source().c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".source ", Quoted(m.source()), " does not exist on the node"));
  }
  if (m.idmap() && !user_namespace) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".idmap needs a user namespace (--userns=auto); without one ids are the node's anyway"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<spec::Spec> BuildSpec(const v1::ContainerConfig& config, const image::Image& image, const std::string& id,
                                     const std::string& cgroups_path, const ContainerPaths& paths,
                                     const SpecNetwork& network, const SecurityInputs& security,
                                     v1::EffectiveSecurity* effective) {
  spec::Spec s = spec::DefaultSpec();

  // Docker's rule: --entrypoint replaces the image's entrypoint and drops its cmd.
  std::vector<std::string> argv;
  bool clear_entrypoint = config.entrypoint_size() == 1 && config.entrypoint(0).empty();  // --entrypoint ""
  if (clear_entrypoint) {
    argv.assign(config.command().begin(), config.command().end());
  } else if (!config.entrypoint().empty()) {
    argv.assign(config.entrypoint().begin(), config.entrypoint().end());
    argv.insert(argv.end(), config.command().begin(), config.command().end());
  } else {
    argv = image.config.config.entrypoint;
    if (!config.command().empty()) {
      argv.insert(argv.end(), config.command().begin(), config.command().end());
    } else {
      argv.insert(argv.end(), image.config.config.cmd.begin(), image.config.config.cmd.end());
    }
  }
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no command: image ", image.name.empty() ? image.id : image.name,
                     " has no entrypoint or cmd; give one in command"));
  }
  s.process.args = argv;

  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  for (const auto& e : image.config.config.env) MergeEnv(env, e);
  std::string hostname = HostnameFor(config, id);
  MergeEnv(env, "HOSTNAME=" + hostname);
  if (config.tty()) MergeEnv(env, "TERM=xterm");
  for (int i = 0; i < config.env_size(); ++i) {
    const std::string& e = config.env(i);
    if (e.empty() || e[0] == '=' || e.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("env[", i, "] must be KEY=VALUE, got \"", e, "\""));
    }
    MergeEnv(env, e);
  }
  s.process.env = env;

  std::string cwd = !config.working_dir().empty() ? config.working_dir()
                    : !image.config.config.working_dir.empty() ? image.config.config.working_dir
                                                         : "/";
  if (cwd[0] != '/' || HasDotDot(cwd)) {
    return absl::InvalidArgumentError(absl::StrCat("working_dir must be an absolute path without \"..\", got \"", cwd, "\""));
  }
  s.process.cwd = cwd;

  const std::string& user = !config.user().empty() ? config.user() : image.config.config.user;
  std::vector<std::string> top_first(image.layers.rbegin(), image.layers.rend());
  auto resolved = ResolveUser(top_first, user);
  if (!resolved.ok()) return resolved.status();
  s.process.user.uid = resolved->uid;
  s.process.user.gid = resolved->gid;
  s.process.user.additional_gids = resolved->additional_gids;
  for (uint32_t g : config.additional_gids()) s.process.user.additional_gids.push_back(g);

  s.process.terminal = config.tty();
  s.hostname = hostname;
  s.root.path = paths.rootfs;
  if (image.layers.empty()) return absl::FailedPreconditionError(absl::StrCat("image ", image.name, " has no layers"));
  // overlayfs lists lower dirs topmost first.
  s.annotations[spec::kAnnotationOverlayLower] = absl::StrJoin(top_first, ":");
  s.annotations[spec::kAnnotationOverlayUpper] = paths.upper;
  s.annotations[spec::kAnnotationOverlayWork] = paths.work;
  s.annotations["dev.berth.container.id"] = id;

  if (network.host) {
    std::erase_if(s.linux.namespaces, [](const spec::Namespace& ns) { return ns.type == "network"; });
  } else if (!network.join_netns.empty()) {
    for (auto& ns : s.linux.namespaces) {
      if (ns.type == "network") ns.path = network.join_netns;
    }
  }
  std::erase_if(s.linux.namespaces,
                [&](const spec::Namespace& ns) { return network.host_namespaces.count(ns.type) > 0; });
  for (auto& ns : s.linux.namespaces) {
    auto join = network.join_paths.find(ns.type);
    if (join != network.join_paths.end()) ns.path = join->second;
  }
  // A shared uts namespace keeps its owner's host name (setting it would rename the owner).
  if (network.host_namespaces.count("uts") > 0 || network.join_paths.count("uts") > 0) s.hostname.clear();
  for (auto [source, destination] : {std::pair{&network.hosts, "/etc/hosts"},
                                     {&network.hostname, "/etc/hostname"},
                                     {&network.resolv_conf, "/etc/resolv.conf"}}) {
    if (source->empty()) continue;
    spec::Mount mount;
    mount.destination = destination;
    mount.type = "bind";
    mount.source = *source;
    mount.options = {"bind", "rw", "nosuid", "nodev", "noexec"};
    s.mounts.push_back(std::move(mount));
  }

  const bool user_namespace = security.userns_first_host_id.has_value();
  for (int i = 0; i < config.mounts_size(); ++i) {
    const v1::Mount& m = config.mounts(i);
    if (absl::Status st = CheckMount(m, i, user_namespace); !st.ok()) return st;
    spec::Mount mount;
    mount.destination = m.destination();
    mount.type = "bind";
    mount.source = m.source();
    mount.options = {"rbind", m.read_only() ? "ro" : "rw", "nosuid", "nodev"};
    if (m.idmap()) mount.options.push_back("idmap");
    if (!m.propagation().empty()) mount.options.push_back(m.propagation());
    s.mounts.push_back(std::move(mount));
  }

  const v1::Resources& r = config.resources();
  if (r.memory_limit_bytes() < 0 || r.cpu_millis() < 0 || r.cpu_shares() < 0 || r.pids_limit() < 0) {
    return absl::InvalidArgumentError("resources: limits must not be negative");
  }
  if (r.memory_limit_bytes() > 0) s.linux.resources.memory_limit = r.memory_limit_bytes();
  if (r.cpu_millis() > 0) {
    s.linux.resources.cpu_period = 100000;
    s.linux.resources.cpu_quota = r.cpu_millis() * 100;
  }
  if (r.cpu_shares() > 0) s.linux.resources.cpu_shares = static_cast<uint64_t>(r.cpu_shares());
  if (r.pids_limit() > 0) s.linux.resources.pids_limit = r.pids_limit();
  s.linux.cgroups_path = cgroups_path;

  SecurityInputs inputs = security;
  inputs.private_network = !network.host && network.join_netns.empty();
  v1::EffectiveSecurity ignored;
  if (absl::Status st = ApplySecurity(config, inputs, s, effective ? effective : &ignored); !st.ok()) return st;

  if (absl::Status st = spec::ValidateSpec(s); !st.ok()) return st;
  return s;
}

}  // namespace berth::agent
