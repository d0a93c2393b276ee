// Named agent endpoints, as `docker context`: `berth context create prod --host tcp://...`
// stores an address and its TLS files, `berth context use prod` makes it the one every command
// talks to unless -H/BERTH_HOST/--node say otherwise.
//
// Storage, below $HOME/.config/berth (directories 0700, files 0600, every write a temp file
// renamed or linked into place, so a crash leaves the old or the new file):
//   contexts/<name>.json  {"name": ..., "description": ..., "host": "tcp://node:7443",
//                          "tls": {"ca": "/abs/ca.pem", "cert": "/abs/cert.pem", "key": ...}}
//   config.json           {"currentContext": "prod"} (absent or no key: "default")
// "default" is not stored: it is the local socket, kDefaultHost.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/tls_files.h"

namespace berth::cli {

inline constexpr char kDefaultContextName[] = "default";

struct Context {
  std::string name;
  std::string description;
  std::string host;  // "tcp://node:7443" or "unix:///path"
  TlsFiles tls;      // absolute paths; all three for tcp://, none for unix://
  bool operator==(const Context&) const = default;
};

// The built-in "default" context: the local agent's socket.
Context DefaultContext();

// [a-zA-Z0-9][a-zA-Z0-9_.+-]*, at most 64 characters. "default" passes (it is a name, just not
// one that can be created or removed).
absl::Status ValidateContextName(std::string_view name);

// The context as JSON (the file's format), and back. Parsing refuses unknown keys.
std::string ContextToJson(const Context& context, int indent = 4);
absl::StatusOr<Context> ParseContextJson(std::string_view json);

// `context ls`: a table (NAME, DESCRIPTION, HOST; the current one's name followed by " *"),
// header row first, and the same as a JSON array ([{"name", "description", "host", "current",
// "tls"?}], indented, ending in a newline).
std::vector<std::vector<std::string>> ContextTableRows(const std::vector<Context>& contexts,
                                                       std::string_view current);
std::string ContextListJson(const std::vector<Context>& contexts, std::string_view current);
// `context inspect`: the contexts as stored, as an indented JSON array ending in a newline.
std::string ContextInspectJson(const std::vector<Context>& contexts);

class ContextStore {
 public:
  // `dir` is the configuration directory ($HOME/.config/berth).
  explicit ContextStore(std::string dir) : dir_(std::move(dir)) {}

  // The store of the user whose home is `home` (the value of $HOME): an unset or relative HOME
  // is an error.
  static absl::StatusOr<ContextStore> ForHome(const char* home);

  const std::string& dir() const { return dir_; }
  std::string ContextPath(std::string_view name) const;
  std::string ConfigPath() const;

  // "default" first, then the stored contexts by name.
  absl::StatusOr<std::vector<Context>> List() const;
  // "default" or a stored context; NotFound names the context.
  absl::StatusOr<Context> Get(std::string_view name) const;
  // Validates the name (not "default", not taken), the host and the TLS files as -H and
  // --tls* would be (the files are read and checked), and stores it with the address
  // normalised ("node:7443" becomes "tcp://node:7443") and absolute file paths.
  absl::StatusOr<Context> Create(Context context);
  // The current context cannot be removed without `force` (which then makes "default" the
  // current one again); "default" never.
  absl::Status Remove(std::string_view name, bool force);

  // The name config.json makes current, "default" when it names none.
  absl::StatusOr<std::string> Current() const;
  // Makes `name` (which must exist) the current context.
  absl::Status Use(std::string_view name);

  // The context a command uses: `override_name` (BERTH_CONTEXT) when not empty, else the
  // current one. A name that does not exist is an error that says where it came from.
  absl::StatusOr<Context> Resolve(std::string_view override_name) const;

 private:
  std::string dir_;
};

}  // namespace berth::cli
