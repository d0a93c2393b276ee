#include "cli/security_flags.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

absl::Status FlagError(const std::string& flag, const std::string& value, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, " '", value, "': ", why));
}

absl::StatusOr<bool> ParseBool(const std::string& text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return absl::InvalidArgumentError("expected true or false");
}

absl::Status ApplySecurityOpt(const std::string& opt, berth::v1::SecurityOptions& sec,
                              const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file) {
  // docker accepts both KEY=VALUE and KEY:VALUE.
  size_t sep = opt.find_first_of("=:");
  std::string key = opt.substr(0, sep);
  std::string value = sep == std::string::npos ? "" : opt.substr(sep + 1);
  if (key == "seccomp") {
    if (value.empty()) return FlagError("--security-opt", opt, "seccomp needs a profile file or unconfined");
    if (value == "unconfined") {
      sec.set_seccomp_profile("unconfined");
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> text = read_file(value);
    if (!text.ok()) return FlagError("--security-opt", opt, std::string(text.status().message()));
    sec.set_seccomp_profile(*text);
    return absl::OkStatus();
  }
  if (key == "no-new-privileges") {
    bool on = true;
    if (sep != std::string::npos) {
      absl::StatusOr<bool> parsed = ParseBool(value);
      if (!parsed.ok()) return FlagError("--security-opt", opt, "no-new-privileges takes true or false");
      on = *parsed;
    }
    sec.set_no_new_privileges(on);
    return absl::OkStatus();
  }
  if (key == "apparmor" || key == "label") {
    return FlagError("--security-opt", opt, absl::StrCat(key, " is not available on this node (no AppArmor or SELinux)"));
  }
  return FlagError("--security-opt", opt, "unknown option (seccomp=FILE|unconfined, no-new-privileges[=true|false])");
}

}  // namespace

absl::StatusOr<berth::v1::DeviceMapping> ParseDevice(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  berth::v1::DeviceMapping m;
  if (parts.empty() || parts.size() > 3 || parts[0].empty() || parts[0][0] != '/') {
    return FlagError("--device", text, "expected HOST[:CONTAINER][:rwm] with absolute paths");
  }
  m.set_host_path(parts[0]);
  auto is_permissions = [](const std::string& p) {
    return !p.empty() && p.find_first_not_of("rwm") == std::string::npos;
  };
  if (parts.size() == 2) {
    if (is_permissions(parts[1])) {
      m.set_permissions(parts[1]);
    } else {
      m.set_container_path(parts[1]);
    }
  } else if (parts.size() == 3) {
    m.set_container_path(parts[1]);
    if (!is_permissions(parts[2])) return FlagError("--device", text, "permissions are a combination of r, w and m");
    m.set_permissions(parts[2]);
  }
  if (!m.container_path().empty() && m.container_path()[0] != '/') {
    return FlagError("--device", text, "the container path must be absolute");
  }
  return m;
}

absl::StatusOr<berth::v1::TmpfsMount> ParseTmpfs(const std::string& text) {
  berth::v1::TmpfsMount t;
  size_t colon = text.find(':');
  t.set_destination(text.substr(0, colon));
  if (t.destination().empty() || t.destination()[0] != '/') {
    return FlagError("--tmpfs", text, "expected an absolute DEST[:OPTIONS]");
  }
  if (colon != std::string::npos) {
    for (absl::string_view opt : absl::StrSplit(text.substr(colon + 1), ',', absl::SkipEmpty())) {
      std::string o(opt);
      // size= takes docker's units (64m); tmpfs itself takes k, m and g too, but not "MiB".
      if (absl::StartsWith(o, "size=")) {
        absl::StatusOr<int64_t> bytes = ParseMemoryBytes(o.substr(5));
        if (!bytes.ok()) return FlagError("--tmpfs", text, std::string(bytes.status().message()));
        o = absl::StrCat("size=", *bytes);
      }
      t.add_options(o);
    }
  }
  return t;
}

absl::StatusOr<berth::v1::Ulimit> ParseUlimit(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return FlagError("--ulimit", text, "expected NAME=SOFT[:HARD]");
  berth::v1::Ulimit u;
  u.set_name(text.substr(0, eq));
  std::vector<std::string> values = absl::StrSplit(text.substr(eq + 1), ':');
  int64_t soft = 0, hard = 0;
  if (values.size() > 2 || !absl::SimpleAtoi(values[0], &soft) ||
      (values.size() == 2 && !absl::SimpleAtoi(values[1], &hard))) {
    return FlagError("--ulimit", text, "limits are integers (-1 for unlimited)");
  }
  u.set_soft(soft);
  u.set_hard(values.size() == 2 ? hard : soft);
  return u;
}

absl::Status ApplySecurityFlags(const SecurityFlags& flags, berth::v1::ContainerConfig& config,
                                const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file) {
  berth::v1::SecurityOptions* sec = config.mutable_security();
  for (const std::string& opt : flags.security_opts) {
    if (absl::Status st = ApplySecurityOpt(opt, *sec, read_file); !st.ok()) return st;
  }
  for (const std::string& c : flags.cap_add) sec->add_cap_add(c);
  for (const std::string& c : flags.cap_drop) sec->add_cap_drop(c);
  sec->set_privileged(flags.privileged);
  if (!flags.userns.empty() && flags.userns != "auto" && flags.userns != "host") {
    return FlagError("--userns", flags.userns, "expected auto or host");
  }
  sec->set_userns(flags.userns);
  sec->set_read_only_rootfs(flags.read_only);
  for (const std::string& d : flags.devices) {
    absl::StatusOr<berth::v1::DeviceMapping> m = ParseDevice(d);
    if (!m.ok()) return m.status();
    *sec->add_devices() = *m;
  }
  for (const std::string& t : flags.tmpfs) {
    absl::StatusOr<berth::v1::TmpfsMount> m = ParseTmpfs(t);
    if (!m.ok()) return m.status();
    *config.add_tmpfs() = *m;
  }
  for (const std::string& u : flags.ulimits) {
    absl::StatusOr<berth::v1::Ulimit> m = ParseUlimit(u);
    if (!m.ok()) return m.status();
    *config.add_ulimits() = *m;
  }
  for (const std::string& s : flags.sysctls) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) return FlagError("--sysctl", s, "expected KEY=VALUE");
    (*config.mutable_sysctls())[s.substr(0, eq)] = s.substr(eq + 1);
  }
  if (!flags.shm_size.empty()) {
    absl::StatusOr<int64_t> bytes = ParseMemoryBytes(flags.shm_size);
    if (!bytes.ok() || *bytes <= 0) return FlagError("--shm-size", flags.shm_size, "expected a size like 64m");
    config.set_shm_size_bytes(*bytes);
  }
  config.set_init(flags.init);
  return absl::OkStatus();
}

}  // namespace berth::cli
