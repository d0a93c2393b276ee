#include "runtime/network/cni_runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/subprocess.h"

namespace berth::net::cni {
namespace {

// A plugin's error output: {"code": N, "msg": "...", "details": "..."}.
absl::Status PluginError(const std::string& type, const char* command, const SubprocessResult& ran) {
  std::string message;
  int code = 0;
  auto error = nlohmann::json::parse(ran.stdout_data, nullptr, false);
  if (error.is_object()) {
    if (error.contains("code") && error["code"].is_number_integer()) code = error["code"].get<int>();
    if (error.contains("msg") && error["msg"].is_string()) message = error["msg"].get<std::string>();
    if (error.contains("details") && error["details"].is_string() && !error["details"].get<std::string>().empty()) {
      absl::StrAppend(&message, " (", error["details"].get<std::string>(), ")");
    }
  }
  if (message.empty()) message = ran.stderr_data.empty() ? ran.stdout_data : ran.stderr_data;
  if (message.size() > 1024) message.resize(1024);
  std::string how = ran.exit_code >= 0 ? absl::StrCat("exit status ", ran.exit_code)
                                       : absl::StrCat("killed by signal ", ran.term_signal);
  return absl::UnavailableError(absl::StrCat("CNI plugin ", Quoted(type), " ", command, " failed (", how,
                                             code ? absl::StrCat(", CNI error ", code) : "", "): ", message));
}

}  // namespace

std::string Runner::CachePath(const Attachment& attachment) const {
  return absl::StrCat(cache_dir_, "/", attachment.container_id, "-", attachment.ifname, ".json");
}

std::optional<Runner::Cached> Runner::LoadCache(const Attachment& attachment) const {
  auto text = ReadFile(CachePath(attachment));
  if (!text.ok()) return std::nullopt;
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (!json.is_object() || !json.contains("list") || !json.contains("result")) return std::nullopt;
  auto list = ParseNetworkList(json["list"].dump(), false);
  if (!list.ok()) return std::nullopt;
  return Cached{std::move(*list), json["result"]};
}

std::optional<nlohmann::json> Runner::CachedResult(const Attachment& attachment) const {
  auto cached = LoadCache(attachment);
  if (!cached) return std::nullopt;
  return cached->result;
}

absl::StatusOr<nlohmann::json> Runner::Invoke(const char* command, const NetworkList& list,
                                              const nlohmann::json& plugin, const Attachment& attachment,
                                              const nlohmann::json* prev_result) {
  const std::string type = plugin["type"].get<std::string>();
  if (type.find('/') != std::string::npos || type == "." || type == "..") {
    return absl::InvalidArgumentError(absl::StrCat("CNI plugin type ", Quoted(type), " is not a plain name"));
  }
  std::string binary;
  for (const std::string& dir : bin_dirs_) {
    std::string candidate = absl::StrCat(dir, "/", type);
    if (::access(candidate.c_str(), X_OK) == 0) {
      binary = candidate;
      break;
    }
  }
  if (binary.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("CNI plugin ", Quoted(type), " is not in ",
                                                      absl::StrJoin(bin_dirs_, ":"), " (--cni-bin-dir)"));
  }
  nlohmann::json conf = plugin;
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  if (prev_result != nullptr) conf["prevResult"] = *prev_result;
  nlohmann::json runtime_config = nlohmann::json::object();
  if (auto caps = plugin.find("capabilities"); caps != plugin.end() && caps->is_object()) {
    for (const auto& [name, enabled] : caps->items()) {
      if (enabled.is_boolean() && enabled.get<bool>() && attachment.capabilities.contains(name)) {
        runtime_config[name] = attachment.capabilities[name];
      }
    }
  }
  if (!runtime_config.empty()) conf["runtimeConfig"] = runtime_config;
  std::vector<std::string> args;
  for (const auto& [k, v] : attachment.args) args.push_back(absl::StrCat(k, "=", v));
  std::vector<std::string> env = {
      absl::StrCat("CNI_COMMAND=", command),
      absl::StrCat("CNI_CONTAINERID=", attachment.container_id),
      absl::StrCat("CNI_NETNS=", attachment.netns_path),
      absl::StrCat("CNI_IFNAME=", attachment.ifname),
      absl::StrCat("CNI_ARGS=", absl::StrJoin(args, ";")),
      absl::StrCat("CNI_PATH=", absl::StrJoin(bin_dirs_, ":")),
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  };
  auto ran = RunSubprocess({binary}, env, conf.dump(), timeout_);
  if (!ran.ok()) return Annotate(ran.status(), absl::StrCat("CNI plugin ", Quoted(type), " ", command));
  if (ran->exit_code != 0) return PluginError(type, command, *ran);
  if (std::string_view(command) != "ADD") return nlohmann::json();
  auto result = nlohmann::json::parse(ran->stdout_data, nullptr, false);
  if (!result.is_object()) {
    return absl::UnavailableError(absl::StrCat("CNI plugin ", Quoted(type), " ADD printed no JSON result: ",
                                               Quoted(ran->stdout_data, 256)));
  }
  return result;
}

absl::StatusOr<nlohmann::json> Runner::Add(const NetworkList& list, const Attachment& attachment) {
  nlohmann::json result;
  bool have_result = false;
  for (const auto& plugin : list.plugins) {
    auto added = Invoke("ADD", list, plugin, attachment, have_result ? &result : nullptr);
    if (!added.ok()) {
      // Undo what the earlier plugins made; the add's error is the one to report.
      Cached partial{list, have_result ? result : nlohmann::json::object()};
      for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
        (void)Invoke("DEL", list, *it, attachment, have_result ? &partial.result : nullptr);
      }
      return added.status();
    }
    result = std::move(*added);
    have_result = true;
  }
  if (::mkdir(cache_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("make the CNI cache ", cache_dir_));
  }
  nlohmann::json cache = {{"list", list.raw}, {"result", result}, {"netns", attachment.netns_path}};
  if (auto st = WriteFileAtomic(CachePath(attachment), cache.dump(), 0600); !st.ok()) {
    for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
      (void)Invoke("DEL", list, *it, attachment, &result);
    }
    return st;
  }
  return result;
}

absl::Status Runner::Check(const Attachment& attachment) {
  auto cached = LoadCache(attachment);
  if (!cached) {
    return absl::NotFoundError(absl::StrCat("no CNI result cached for ", Quoted(attachment.container_id)));
  }
  if (cached->list.disable_check) return absl::OkStatus();
  for (const auto& plugin : cached->list.plugins) {
    auto checked = Invoke("CHECK", cached->list, plugin, attachment, &cached->result);
    if (!checked.ok()) return checked.status();
  }
  return absl::OkStatus();
}

absl::Status Runner::Del(const Attachment& attachment, const NetworkList* fallback) {
  auto cached = LoadCache(attachment);
  if (!cached && fallback == nullptr) return absl::OkStatus();
  const NetworkList& list = cached ? cached->list : *fallback;
  const nlohmann::json* prev = cached ? &cached->result : nullptr;
  absl::Status first;
  for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
    auto deleted = Invoke("DEL", list, *it, attachment, prev);
    if (!deleted.ok() && first.ok()) first = deleted.status();
  }
  if (first.ok()) ::unlink(CachePath(attachment).c_str());
  return first;
}

std::vector<std::string> ResultAddresses(const nlohmann::json& result) {
  std::vector<std::string> out;
  auto ips = result.find("ips");
  if (ips == result.end() || !ips->is_array()) return out;
  for (const auto& ip : *ips) {
    if (!ip.is_object() || !ip.contains("address") || !ip["address"].is_string()) continue;
    std::string address = ip["address"].get<std::string>();
    out.push_back(address.substr(0, address.find('/')));
  }
  return out;
}

}  // namespace berth::net::cni
