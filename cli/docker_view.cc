#include "cli/docker_view.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/human_format.h"
#include "cli/image_format.h"
#include "cli/json_output.h"
#include "cli/network_flags.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;
using json = nlohmann::json;

template <typename Repeated>
json List(const Repeated& items) {
  json out = json::array();
  for (const auto& item : items) out.push_back(item);
  return out;
}

template <typename Map>
json Object(const Map& map) {
  json out = json::object();
  for (const auto& [k, v] : map) out[k] = v;
  return out;
}

// {"80/tcp": [{"HostIp": ..., "HostPort": "8080"}], ...}
json PortMap(const google::protobuf::RepeatedPtrField<v1::PortMapping>& ports, bool any_address_explicit) {
  json out = json::object();
  for (const v1::PortMapping& m : ports) {
    std::string ip = m.host_ip();
    if (any_address_explicit && ip.empty()) ip = "0.0.0.0";
    out[absl::StrCat(m.container_port(), "/", PortProtocol(m))].push_back(
        json{{"HostIp", ip}, {"HostPort", absl::StrCat(m.host_port())}});
  }
  return out;
}

json StateView(const v1::Container& c) {
  json state = {
      {"Status", StateWord(c.state())},
      // docker's Running holds while paused too.
      {"Running", c.state() == v1::RUNNING || c.state() == v1::PAUSED},
      {"Paused", c.state() == v1::PAUSED},
      // Berth has no restarting or dead state: a container waiting for its restart is exited.
      {"Restarting", false},
      {"Dead", false},
      {"OOMKilled", c.oom_killed()},
      {"Pid", c.pid()},
      {"ExitCode", c.exit_code()},
      {"Error", c.error()},
      {"StartedAt", DockerTime(c.started_at())},
      {"FinishedAt", DockerTime(c.finished_at())},
  };
  if (!c.health().status().empty()) {
    json log = json::array();
    for (const v1::HealthResult& r : c.health().log()) {
      log.push_back({{"Start", DockerTime(r.start())},
                     {"End", DockerTime(r.end())},
                     {"ExitCode", r.exit_code()},
                     {"Output", r.output()}});
    }
    state["Health"] = {{"Status", c.health().status()},
                       {"FailingStreak", c.health().failing_streak()},
                       {"Log", std::move(log)}};
  }
  return state;
}

bool StartsWith(const std::vector<std::string>& all, const std::vector<std::string>& prefix) {
  return prefix.size() <= all.size() && std::equal(prefix.begin(), prefix.end(), all.begin());
}

bool EndsWith(const std::vector<std::string>& all, const std::vector<std::string>& suffix) {
  return suffix.size() <= all.size() && std::equal(suffix.rbegin(), suffix.rend(), all.rbegin());
}

// Config.Entrypoint and Config.Cmd: the argv the container runs is the two joined, split by
// what the create asked for (an entrypoint replaces the image's and drops its Cmd), else by
// the image's own.
void EntrypointAndCmd(const v1::Container& c, const v1::Image* image, json* config) {
  const std::vector<std::string> argv(c.command().begin(), c.command().end());
  const std::vector<std::string> entrypoint(c.config().entrypoint().begin(), c.config().entrypoint().end());
  const std::vector<std::string> cmd(c.config().command().begin(), c.config().command().end());
  if (entrypoint.size() == 1 && entrypoint[0].empty()) {  // [""]: the image's entrypoint cleared
    (*config)["Entrypoint"] = json::array();
    (*config)["Cmd"] = argv;
  } else if (!entrypoint.empty() && StartsWith(argv, entrypoint)) {
    (*config)["Entrypoint"] = entrypoint;
    (*config)["Cmd"] = std::vector<std::string>(argv.begin() + static_cast<long>(entrypoint.size()), argv.end());
  } else if (!cmd.empty() && EndsWith(argv, cmd)) {
    (*config)["Entrypoint"] = std::vector<std::string>(argv.begin(), argv.end() - static_cast<long>(cmd.size()));
    (*config)["Cmd"] = cmd;
  } else if (image != nullptr) {
    (*config)["Entrypoint"] = List(image->entrypoint());
    (*config)["Cmd"] = List(image->cmd());
  } else {
    (*config)["Cmd"] = argv;
  }
}

json NetworkSettingsView(const v1::Container& c) {
  const v1::NetworkSettings& ns = c.network_settings();
  json networks = json::object();
  if (!ns.network().empty()) {
    networks[ns.network()] = {{"NetworkID", ns.network_id()},
                              {"IPAddress", ns.ip_address()},
                              {"IPPrefixLen", ns.prefix_length()},
                              {"Gateway", ns.gateway()},
                              {"GlobalIPv6Address", ns.ipv6_address()},
                              {"GlobalIPv6PrefixLen", ns.ipv6_prefix_length()},
                              {"IPv6Gateway", ns.ipv6_gateway()},
                              {"Aliases", List(ns.aliases())},
                              {"MacAddress", ns.mac_address()}};
  }
  return {{"IPAddress", ns.ip_address()},
          {"IPPrefixLen", ns.prefix_length()},
          {"Gateway", ns.gateway()},
          {"GlobalIPv6Address", ns.ipv6_address()},
          {"GlobalIPv6PrefixLen", ns.ipv6_prefix_length()},
          {"IPv6Gateway", ns.ipv6_gateway()},
          {"MacAddress", ns.mac_address()},
          {"Ports", PortMap(ns.ports(), /*any_address_explicit=*/true)},
          {"Networks", std::move(networks)}};
}

}  // namespace

std::string DockerTime(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "0001-01-01T00:00:00Z";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", TimeFromProto(ts), absl::UTCTimeZone());
}

json ContainerView(const v1::Container& c, const v1::Image* image) {
  const v1::ContainerConfig& cfg = c.config();
  json view = {
      {"Id", c.id()},
      {"Name", "/" + c.name()},
      {"Created", DockerTime(c.created_at())},
      {"Path", c.command().empty() ? std::string() : c.command(0)},
      {"Args", c.command().empty() ? json::array()
                                   : json(std::vector<std::string>(c.command().begin() + 1, c.command().end()))},
      {"State", StateView(c)},
      {"Image", c.image_id()},
      {"RestartCount", c.restart_count()},
  };
  json config = {
      {"Hostname", c.hostname()},
      {"User", c.user()},
      {"Env", List(c.env())},
      {"Image", c.image()},
      {"WorkingDir", c.working_dir()},
      {"Labels", Object(c.labels())},
      {"StopSignal", cfg.stop_signal()},
      {"Tty", cfg.tty()},
      {"OpenStdin", cfg.open_stdin()},
  };
  EntrypointAndCmd(c, image, &config);
  view["Config"] = std::move(config);
  const std::string& policy = cfg.restart_policy().name();
  view["HostConfig"] = {
      {"RestartPolicy",
       {{"Name", policy.empty() ? std::string("no") : policy},
        {"MaximumRetryCount", cfg.restart_policy().max_retries()}}},
      {"Memory", c.resources().memory_limit_bytes()},
      {"NanoCpus", c.resources().cpu_millis() * 1'000'000},
      {"CpuShares", c.resources().cpu_shares()},
      {"PidsLimit", c.resources().pids_limit()},
      {"NetworkMode", cfg.network().empty() ? std::string("bridge") : cfg.network()},
      {"PortBindings", PortMap(cfg.ports(), /*any_address_explicit=*/false)},
      {"Privileged", c.security().privileged()},
      {"ReadonlyRootfs", c.security().read_only_rootfs()},
      {"AutoRemove", cfg.auto_remove()},
  };
  view["NetworkSettings"] = NetworkSettingsView(c);
  json mounts = json::array();
  for (const v1::Mount& m : cfg.mounts()) {
    mounts.push_back({{"Type", "bind"},
                      {"Source", m.source()},
                      {"Destination", m.destination()},
                      {"Mode", m.read_only() ? "ro" : ""},
                      {"RW", !m.read_only()}});
  }
  view["Mounts"] = std::move(mounts);
  return view;
}

json ImageView(const v1::Image& image) {
  json digests = json::array();
  if (!image.manifest_digest().empty()) {
    std::vector<std::string> seen;
    for (const std::string& name : image.names()) {
      const std::string repository = SplitRepositoryTag(name).first;
      if (std::find(seen.begin(), seen.end(), repository) != seen.end()) continue;
      seen.push_back(repository);
      digests.push_back(repository + "@" + image.manifest_digest());
    }
  }
  return {
      {"Id", image.id()},
      {"RepoTags", List(image.names())},
      {"RepoDigests", std::move(digests)},
      {"Created", DockerTime(image.created_at())},
      {"Size", image.size()},
      {"Architecture", image.architecture()},
      {"Os", image.os()},
      {"Config",
       {{"Env", List(image.env())},
        {"Cmd", List(image.cmd())},
        {"Entrypoint", List(image.entrypoint())},
        {"WorkingDir", image.working_dir()},
        {"Labels", Object(image.labels())},
        {"User", image.user()}}},
      {"RootFS", {{"Type", "layers"}, {"Layers", List(image.diff_ids())}}},
  };
}

json NetworkView(const v1::Network& network) {
  json ipam_config = json::array();
  if (!network.subnet().empty()) {
    ipam_config.push_back({{"Subnet", network.subnet()}, {"Gateway", network.gateway()}});
  }
  if (!network.ipv6_subnet().empty()) {
    ipam_config.push_back({{"Subnet", network.ipv6_subnet()}, {"Gateway", network.ipv6_gateway()}});
  }
  json options = Object(network.options());
  if (!network.bridge().empty()) options["com.docker.network.bridge.name"] = network.bridge();
  options["com.docker.network.bridge.enable_ip_masquerade"] = network.masquerade() ? "true" : "false";
  json containers = json::object();
  for (const std::string& id : network.containers()) containers[id] = json::object();
  return {
      {"Name", network.name()},
      {"Id", network.id()},
      {"Created", DockerTime(network.created_at())},
      {"Scope", "local"},
      {"Driver", network.driver()},
      // Berth's networks always have a way out (masquerade or routes): never internal.
      {"EnableIPv6", network.ipv6()},
      {"Internal", false},
      {"IPAM", {{"Driver", "default"}, {"Config", std::move(ipam_config)}}},
      {"Labels", Object(network.labels())},
      {"Options", std::move(options)},
      {"Containers", std::move(containers)},
  };
}

// docker volume inspect's fields.
json VolumeView(const v1::Volume& volume) {
  return json{
      {"Name", volume.name()},
      {"Driver", volume.driver()},
      {"Mountpoint", volume.mountpoint()},
      {"CreatedAt", DockerTime(volume.created_at())},
      {"Labels", Object(volume.labels())},
      {"Scope", "local"},
      {"Options", json::object()},
      {"UsageData", {{"Size", volume.size_bytes()}, {"RefCount", volume.used_by_size()}}},
  };
}

absl::StatusOr<json> InspectView(const google::protobuf::Message& message, const v1::Image* container_image) {
  json view = json::object();
  if (const auto* c = dynamic_cast<const v1::Container*>(&message)) {
    view = ContainerView(*c, container_image);
  } else if (const auto* i = dynamic_cast<const v1::Image*>(&message)) {
    view = ImageView(*i);
  } else if (const auto* n = dynamic_cast<const v1::Network*>(&message)) {
    view = NetworkView(*n);
  } else if (const auto* v = dynamic_cast<const v1::Volume*>(&message)) {
    view = VolumeView(*v);
  }
  absl::StatusOr<std::string> proto = MessageToJson(message);
  if (!proto.ok()) return proto.status();
  json fields = json::parse(*proto, nullptr, /*allow_exceptions=*/false);
  if (!fields.is_object()) return absl::InternalError("cannot read back the JSON of " + message.GetTypeName());
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (!view.contains(it.key())) view[it.key()] = it.value();
  }
  return view;
}

}  // namespace berth::cli
