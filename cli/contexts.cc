#include "cli/contexts.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/file_util.h"
#include "cli/host_target.h"

namespace berth::cli {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr size_t kMaxNameLength = 64;
// Context files and config.json are a few hundred bytes.
constexpr size_t kMaxStoreFileSize = 64 * 1024;
constexpr char kCurrentContextKey[] = "currentContext";

std::string Quoted(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('"');
  out.append(name);
  out.push_back('"');
  return out;
}

absl::StatusOr<OrderedJson> ParseObject(std::string_view text, std::string_view where) {
  OrderedJson json = OrderedJson::parse(text.begin(), text.end(), nullptr, false);
  if (json.is_discarded()) return absl::InvalidArgumentError(std::string(where) + ": not valid JSON");
  if (!json.is_object()) {
    return absl::InvalidArgumentError(std::string(where) + ": expected a JSON object");
  }
  return json;
}

absl::Status StringMember(const OrderedJson& object, const std::string& key,
                          std::string_view where, std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": \"", key, "\" must be a string"));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

// config.json as an object ({} when the file does not exist).
absl::StatusOr<OrderedJson> ReadConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadBoundedFile(path, kMaxStoreFileSize, "Berth config");
  if (absl::IsNotFound(text.status())) return OrderedJson::object();
  if (!text.ok()) return text.status();
  return ParseObject(*text, path);
}

absl::Status WriteConfig(const std::string& dir, const std::string& path, const OrderedJson& json) {
  if (absl::Status s = MakePrivateDirs(dir); !s.ok()) return s;
  return WriteFileAtomically(path, json.dump(4) + "\n", /*exclusive=*/false);
}

}  // namespace

Context DefaultContext() {
  return Context{kDefaultContextName, "The local agent's socket", kDefaultHost, TlsFiles{}};
}

absl::Status ValidateContextName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("a context name cannot be empty");
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("context name \"", std::string(name.substr(0, 80)),
                                                   "...\" is longer than 64 characters"));
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  bool ok = alnum(name.front());
  for (char c : name.substr(1)) {
    ok = ok && (alnum(c) || c == '_' || c == '.' || c == '+' || c == '-');
  }
  if (!ok) {
    std::string shown;
    for (char c : name) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
    return absl::InvalidArgumentError(
        absl::StrCat("invalid context name \"", shown,
                     "\": use letters, digits and _.+- (starting with a letter or digit)"));
  }
  return absl::OkStatus();
}


absl::StatusOr<Context> ParseContextJson(std::string_view text) {
  absl::StatusOr<OrderedJson> json = ParseObject(text, "context");
  if (!json.ok()) return json.status();
  for (const auto& [key, value] : json->items()) {
    if (key != "name" && key != "description" && key != "host" && key != "tls") {
      return absl::InvalidArgumentError("context: unknown key \"" + key + "\"");
    }
  }
  Context c;
  for (auto [key, field] : {std::pair{"name", &c.name}, std::pair{"description", &c.description},
                            std::pair{"host", &c.host}}) {
    if (absl::Status s = StringMember(*json, key, "context", field); !s.ok()) return s;
  }
  if (absl::Status s = ValidateContextName(c.name); !s.ok()) return s;
  if (c.host.empty()) return absl::InvalidArgumentError("context: \"host\" is missing");
  if (auto tls = json->find("tls"); tls != json->end() && !tls->is_null()) {
    if (!tls->is_object()) return absl::InvalidArgumentError("context: \"tls\" must be an object");
    for (const auto& [key, value] : tls->items()) {
      if (key != "ca" && key != "cert" && key != "key") {
        return absl::InvalidArgumentError("context: unknown key \"tls." + key + "\"");
      }
    }
    for (auto [key, field] : {std::pair{"ca", &c.tls.ca}, std::pair{"cert", &c.tls.cert},
                              std::pair{"key", &c.tls.key}}) {
      if (absl::Status s = StringMember(*tls, key, "context tls", field); !s.ok()) return s;
    }
  }
  return c;
}

namespace {

OrderedJson ContextObject(const Context& c) {
  OrderedJson json = OrderedJson::object();
  json["name"] = c.name;
  json["description"] = c.description;
  json["host"] = c.host;
  if (!c.tls.empty()) {
    json["tls"] = OrderedJson{{"ca", c.tls.ca}, {"cert", c.tls.cert}, {"key", c.tls.key}};
  }
  return json;
}

// One line of a table cell: control characters become spaces.
std::string Cell(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

}  // namespace

std::string ContextToJson(const Context& c, int indent) { return ContextObject(c).dump(indent); }

std::vector<std::vector<std::string>> ContextTableRows(const std::vector<Context>& contexts,
                                                       std::string_view current) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "DESCRIPTION", "HOST"}};
  for (const Context& c : contexts) {
    rows.push_back({c.name == current ? c.name + " *" : c.name, Cell(c.description), Cell(c.host)});
  }
  return rows;
}

std::string ContextListJson(const std::vector<Context>& contexts, std::string_view current) {
  OrderedJson array = OrderedJson::array();
  for (const Context& c : contexts) {
    OrderedJson json = ContextObject(c);
    json["current"] = c.name == current;
    array.push_back(std::move(json));
  }
  return array.dump(4) + "\n";
}

std::string ContextInspectJson(const std::vector<Context>& contexts) {
  OrderedJson array = OrderedJson::array();
  for (const Context& c : contexts) array.push_back(ContextObject(c));
  return array.dump(4) + "\n";
}

absl::StatusOr<ContextStore> ContextStore::ForHome(const char* home) {
  if (home == nullptr || home[0] == '\0') {
    return absl::FailedPreconditionError(
        "HOME is not set: the Berth contexts live in $HOME/.config/berth");
  }
  if (home[0] != '/') {
    return absl::FailedPreconditionError(absl::StrCat("HOME (", home, ") is not an absolute path"));
  }
  std::string dir = home;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir == "/") dir.clear();
  return ContextStore(dir + "/.config/berth");
}

std::string ContextStore::ContextPath(std::string_view name) const {
  return dir_ + "/contexts/" + std::string(name) + ".json";
}

std::string ContextStore::ConfigPath() const { return dir_ + "/config.json"; }

absl::StatusOr<Context> ContextStore::Get(std::string_view name) const {
  if (name == kDefaultContextName) return DefaultContext();
  if (absl::Status s = ValidateContextName(name); !s.ok()) return s;
  const std::string path = ContextPath(name);
  absl::StatusOr<std::string> text = ReadBoundedFile(path, kMaxStoreFileSize, "context file");
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat("no such context: ", Quoted(name)));
  }
  if (!text.ok()) return text.status();
  absl::StatusOr<Context> context = ParseContextJson(*text);
  if (!context.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", context.status().message()));
  }
  if (context->name != name) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": holds the context ", Quoted(context->name), ", not ", Quoted(name)));
  }
  return context;
}

absl::StatusOr<std::vector<Context>> ContextStore::List() const {
  std::vector<Context> out = {DefaultContext()};
  const std::string dir = dir_ + "/contexts";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return ErrnoStatus(errno, "cannot list " + dir);
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(d)) {
    std::string_view file = entry->d_name;
    if (!file.ends_with(".json")) continue;
    std::string_view name = file.substr(0, file.size() - 5);
    // Temp files and anything we would not have written are not contexts.
    if (name == kDefaultContextName || !ValidateContextName(name).ok()) continue;
    names.emplace_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    absl::StatusOr<Context> context = Get(name);
    if (absl::IsNotFound(context.status())) continue;  // removed meanwhile
    if (!context.ok()) return context.status();
    out.push_back(*std::move(context));
  }
  return out;
}

absl::StatusOr<Context> ContextStore::Create(Context context) {
  if (absl::Status s = ValidateContextName(context.name); !s.ok()) return s;
  if (context.name == kDefaultContextName) {
    return absl::InvalidArgumentError(
        "the context name \"default\" is reserved: it is the local socket " +
        std::string(kDefaultHost));
  }
  context.tls = AbsoluteTlsFiles(context.tls);
  const std::string origin = "context " + Quoted(context.name);
  absl::StatusOr<AgentEndpoint> endpoint = MakeEndpoint(context.host, context.tls, origin);
  if (!endpoint.ok()) return endpoint.status();
  if (endpoint->address.is_tcp()) {
    absl::StatusOr<TlsMaterial> material = LoadTlsMaterial(context.tls);
    if (!material.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": ", material.status().message()));
    }
  }
  context.host = endpoint->address.Uri();
  if (absl::Status s = MakePrivateDirs(dir_ + "/contexts"); !s.ok()) return s;
  absl::Status written =
      WriteFileAtomically(ContextPath(context.name), ContextToJson(context) + "\n", /*exclusive=*/true);
  if (absl::IsAlreadyExists(written)) {
    return absl::AlreadyExistsError(absl::StrCat("context ", Quoted(context.name),
                                                 " already exists (remove it first)"));
  }
  if (!written.ok()) return written;
  return context;
}

absl::Status ContextStore::Remove(std::string_view name, bool force) {
  if (name == kDefaultContextName) {
    return absl::InvalidArgumentError("the default context cannot be removed");
  }
  if (absl::Status s = ValidateContextName(name); !s.ok()) return s;
  absl::StatusOr<std::string> current = Current();
  // A broken config.json must not keep a context from being removed with --force.
  if (!current.ok() && !force) return current.status();
  const bool is_current = current.ok() && *current == name;
  if (is_current && !force) {
    return absl::FailedPreconditionError(
        absl::StrCat("context ", Quoted(name),
                     " is the current context: switch with `berth context use default` first, "
                     "or remove it with --force"));
  }
  const std::string path = ContextPath(name);
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no such context: ", Quoted(name)));
    return ErrnoStatus(errno, "cannot remove " + path);
  }
  if (is_current) return Use(kDefaultContextName);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ContextStore::Current() const {
  const std::string path = ConfigPath();
  absl::StatusOr<OrderedJson> config = ReadConfig(path);
  if (!config.ok()) return config.status();
  std::string name;
  if (absl::Status s = StringMember(*config, kCurrentContextKey, path, &name); !s.ok()) return s;
  if (name.empty()) return std::string(kDefaultContextName);
  if (absl::Status s = ValidateContextName(name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return name;
}

absl::Status ContextStore::Use(std::string_view name) {
  if (absl::StatusOr<Context> context = Get(name); !context.ok()) return context.status();
  const std::string path = ConfigPath();
  absl::StatusOr<OrderedJson> config = ReadConfig(path);
  if (!config.ok()) return config.status();
  if (name == kDefaultContextName) {
    if (!config->contains(kCurrentContextKey)) return absl::OkStatus();
    config->erase(kCurrentContextKey);
  } else {
    (*config)[kCurrentContextKey] = std::string(name);
  }
  return WriteConfig(dir_, path, *config);
}

absl::StatusOr<Context> ContextStore::Resolve(std::string_view override_name) const {
  if (!override_name.empty()) {
    absl::StatusOr<Context> context = Get(override_name);
    if (absl::IsNotFound(context.status())) {
      return absl::NotFoundError(absl::StrCat("BERTH_CONTEXT names the context ",
                                              Quoted(override_name),
                                              ", which does not exist (see berth context ls)"));
    }
    if (!context.ok()) return absl::Status(context.status().code(),
                                           absl::StrCat("BERTH_CONTEXT: ", context.status().message()));
    return context;
  }
  absl::StatusOr<std::string> current = Current();
  if (!current.ok()) return current.status();
  absl::StatusOr<Context> context = Get(*current);
  if (absl::IsNotFound(context.status())) {
    return absl::NotFoundError(absl::StrCat(
        "the current context ", Quoted(*current), " (", ConfigPath(),
        ") does not exist: choose another with `berth context use NAME`"));
  }
  return context;
}

}  // namespace berth::cli
