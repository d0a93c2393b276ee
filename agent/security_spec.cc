#include "agent/security_spec.h"

#include <dirent.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/quote.h"
#include "runtime/seccomp/seccomp_profile.h"

namespace berth::agent {

namespace {

constexpr uint32_t kUsernsRange = 65536;

absl::Status FieldError(const std::string& field, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Every capability the agent itself holds: a container cannot be given more (this node, for
// one, withholds CAP_SYS_RESOURCE from its root).
std::vector<std::string> AgentCapabilities() {
  std::vector<std::string> out;
  cap_t caps = cap_get_proc();
  for (const std::string& name : spec::AllCapabilityNames()) {
    cap_flag_value_t value = CAP_CLEAR;
    if (caps != nullptr) cap_get_flag(caps, static_cast<cap_value_t>(*spec::CapabilityNumber(name)), CAP_PERMITTED, &value);
    if (value == CAP_SET) out.push_back(name);
  }
  if (caps != nullptr) cap_free(caps);
  return out;
}

// Normalised names of `list` (a cap_add or cap_drop), and whether it holds ALL.
absl::Status CapabilityList(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& field,
                            std::vector<std::string>& names, bool& all) {
  for (int i = 0; i < list.size(); ++i) {
    if (absl::AsciiStrToUpper(list.Get(i)) == "ALL") {
      all = true;
      continue;
    }
    absl::StatusOr<std::string> name = CapabilityName(list.Get(i), absl::StrCat(field, "[", i, "]"));
    if (!name.ok()) return name.status();
    names.push_back(*name);
  }
  return absl::OkStatus();
}

// Docker's rules: ALL in cap_add starts from every capability, ALL in cap_drop from none;
// then the named ones are added, then the named drops removed. "Every" is what the agent has.
absl::StatusOr<std::vector<std::string>> Capabilities(const v1::SecurityOptions& sec) {
  std::vector<std::string> caps = sec.privileged() ? AgentCapabilities() : spec::DefaultCapabilities();
  std::vector<std::string> adds, drops;
  bool add_all = false, drop_all = false;
  if (absl::Status st = CapabilityList(sec.cap_add(), "security.cap_add", adds, add_all); !st.ok()) return st;
  if (absl::Status st = CapabilityList(sec.cap_drop(), "security.cap_drop", drops, drop_all); !st.ok()) return st;
  if (add_all) {
    caps = AgentCapabilities();
  } else if (drop_all) {
    caps.clear();
  }
  for (const std::string& c : adds) {
    if (!Contains(caps, c)) caps.push_back(c);
  }
  std::erase_if(caps, [&](const std::string& c) { return Contains(drops, c); });
  std::sort(caps.begin(), caps.end(), [](const std::string& a, const std::string& b) {
    return *spec::CapabilityNumber(a) < *spec::CapabilityNumber(b);
  });
  return caps;
}

// A non-root user keeps the bounding set only (what a setuid-root or file-capability binary
// could still reach, which no_new_privs stops); root gets the set in effect, as Docker does.
spec::Capabilities CapabilitySets(const std::vector<std::string>& caps, uint32_t uid) {
  spec::Capabilities sets;
  sets.bounding = caps;
  if (uid == 0) {
    sets.effective = caps;
    sets.permitted = caps;
  }
  return sets;
}

absl::Status ApplySeccomp(const v1::SecurityOptions& sec, const std::vector<std::string>& caps, spec::Spec& s,
                          v1::EffectiveSecurity* effective) {
  const std::string& text = sec.seccomp_profile();
  if (text == "unconfined" || (text.empty() && sec.privileged())) {
    effective->set_seccomp("unconfined");
    return absl::OkStatus();
  }
  const seccomp::Profile* profile = &seccomp::DefaultProfile();
  seccomp::Profile custom;
  if (!text.empty()) {
    absl::StatusOr<seccomp::Profile> parsed = seccomp::ParseProfile(text, "security.seccomp_profile");
    if (!parsed.ok()) return parsed.status();
    custom = std::move(*parsed);
    profile = &custom;
  }
  s.linux.seccomp = seccomp::Resolve(*profile, caps);
  effective->set_seccomp(text.empty() ? "default" : "custom");
  effective->set_seccomp_rules(static_cast<int32_t>(s.linux.seccomp->syscalls.size()));
  return absl::OkStatus();
}

// Every device node of the node's /dev (subdirectories too, but not pts, shm or mqueue,
// which the container mounts afresh), for --privileged.
void CollectHostDevices(const std::string& dir, std::vector<spec::Device>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = absl::StrCat(dir, "/", name);
    if (path == "/dev/pts" || path == "/dev/shm" || path == "/dev/mqueue" || path == "/dev/console") continue;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      CollectHostDevices(path, out);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      spec::Device dev;
      dev.path = path;
      dev.type = S_ISBLK(st.st_mode) ? "b" : "c";
      dev.major = major(st.st_rdev);
      dev.minor = minor(st.st_rdev);
      dev.file_mode = st.st_mode & 07777;
      dev.uid = st.st_uid;
      dev.gid = st.st_gid;
      out.push_back(std::move(dev));
    }
  }
  ::closedir(d);
}

absl::Status ApplyDevices(const v1::SecurityOptions& sec, spec::Spec& s, v1::EffectiveSecurity* effective) {
  if (sec.privileged()) {
    CollectHostDevices("/dev", s.linux.devices);
    s.linux.resources.devices.push_back({true, "a", std::nullopt, std::nullopt, "rwm"});
  }
  for (int i = 0; i < sec.devices_size(); ++i) {
    const v1::DeviceMapping& m = sec.devices(i);
    const std::string field = absl::StrCat("security.devices[", i, "]");
    if (!CleanAbsolute(m.host_path())) {
      return FieldError(field + ".host_path", absl::StrCat("must be an absolute path without \"..\", got ",
                                                           Quoted(m.host_path())));
    }
    struct stat st;
    if (::stat(m.host_path().c_str(), &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
      return FieldError(field + ".host_path",
                        absl::StrCat(Quoted(m.host_path()), " is not a character or block device on the node"));
    }
    std::string container_path = m.container_path().empty() ? m.host_path() : m.container_path();
    if (!CleanAbsolute(container_path)) {
      return FieldError(field + ".container_path",
                        absl::StrCat("must be an absolute path without \"..\", got ", Quoted(container_path)));
    }
    std::string access = m.permissions().empty() ? "rwm" : m.permissions();
    if (access.find_first_not_of("rwm") != std::string::npos) {
      return FieldError(field + ".permissions", absl::StrCat("must be a combination of r, w and m, got ",
                                                             Quoted(access)));
    }
    spec::Device dev;
    dev.path = container_path;
    dev.type = S_ISBLK(st.st_mode) ? "b" : "c";
    dev.major = major(st.st_rdev);
    dev.minor = minor(st.st_rdev);
    dev.file_mode = st.st_mode & 07777;
    s.linux.devices.push_back(dev);
    s.linux.resources.devices.push_back({true, dev.type, dev.major, dev.minor, access});
    effective->add_devices(absl::StrCat(m.host_path(), ":", container_path, ":", access));
  }
  for (const spec::DeviceRule& r : spec::DeviceRulesFor(s.linux.resources)) {
    auto number = [](const std::optional<int64_t>& n) { return n ? absl::StrCat(*n) : std::string("*"); };
    effective->add_device_rules(absl::StrCat(r.allow ? "allow " : "deny ", r.type, " ", number(r.major), ":",
                                             number(r.minor), " ", r.access));
  }
  return absl::OkStatus();
}

// Namespaced kernel parameters only: a container must never change the node's.
absl::Status CheckSysctl(const std::string& key, const std::string& value, bool private_network) {
  const std::string field = absl::StrCat("sysctls[", Quoted(key), "]");
  if (value.find_first_of("\n\r") != std::string::npos) return FieldError(field, "the value must be one line");
  if (absl::StartsWith(key, "net.")) {
    if (!private_network) {
      return FieldError(field, "net.* parameters need the container's own network namespace (not host or "
                               "container: networking)");
    }
    return absl::OkStatus();
  }
  if (absl::StartsWith(key, "kernel.shm") || absl::StartsWith(key, "kernel.msg") || key == "kernel.sem" ||
      absl::StartsWith(key, "fs.mqueue.")) {
    return absl::OkStatus();
  }
  return FieldError(field, "is not a namespaced parameter (allowed: net.*, kernel.shm*, kernel.msg*, "
                           "kernel.sem, fs.mqueue.*); setting it would change the node");
}

absl::Status ApplySysctls(const v1::ContainerConfig& config, const SecurityInputs& in, spec::Spec& s) {
  if (in.private_network) {
    // ping works without CAP_NET_RAW: ICMP sockets for every group the namespace maps.
    s.linux.sysctl["net.ipv4.ping_group_range"] =
        in.userns_first_host_id ? absl::StrCat("0 ", kUsernsRange - 1) : "0 2147483647";
  }
  for (const auto& [key, value] : config.sysctls()) {
    if (absl::Status st = CheckSysctl(key, value, in.private_network); !st.ok()) return st;
    s.linux.sysctl[key] = value;
  }
  return absl::OkStatus();
}

absl::Status ApplyUlimits(const v1::ContainerConfig& config, spec::Spec& s) {
  for (int i = 0; i < config.ulimits_size(); ++i) {
    const v1::Ulimit& u = config.ulimits(i);
    const std::string field = absl::StrCat("ulimits[", i, "]");
    std::string type = absl::AsciiStrToUpper(u.name());
    if (!absl::StartsWith(type, "RLIMIT_")) type = "RLIMIT_" + type;
    if (!spec::RlimitResource(type).ok()) {
      return FieldError(field + ".name", absl::StrCat("unknown limit ", Quoted(u.name()),
                                                      " (nofile, nproc, core, stack, memlock, ...)"));
    }
    auto value = [](int64_t v) { return v < 0 ? ~uint64_t{0} : static_cast<uint64_t>(v); };
    spec::Rlimit r{type, value(u.hard() == 0 ? u.soft() : u.hard()), value(u.soft())};
    if (r.soft > r.hard) {
      return FieldError(field, absl::StrCat(u.name(), " soft limit ", u.soft(), " exceeds its hard limit ", u.hard()));
    }
    std::erase_if(s.process.rlimits, [&](const spec::Rlimit& x) { return x.type == type; });
    s.process.rlimits.push_back(r);
  }
  return absl::OkStatus();
}

absl::Status ApplyTmpfs(const v1::ContainerConfig& config, spec::Spec& s) {
  static const std::set<std::string> kFlags = {"ro", "rw", "exec", "noexec", "suid", "nosuid"};
  static const std::vector<std::string> kKeyed = {"size=", "mode=", "uid=", "gid=", "nr_inodes="};
  for (int i = 0; i < config.tmpfs_size(); ++i) {
    const v1::TmpfsMount& t = config.tmpfs(i);
    const std::string field = absl::StrCat("tmpfs[", i, "]");
    if (!CleanAbsolute(t.destination()) || t.destination() == "/") {
      return FieldError(field + ".destination",
                        absl::StrCat("must be an absolute path other than / without \"..\", got ",
                                     Quoted(t.destination())));
    }
    spec::Mount m{t.destination(), "tmpfs", "tmpfs", {"nosuid", "nodev", "noexec"}};
    for (const std::string& opt : t.options()) {
      bool keyed = std::any_of(kKeyed.begin(), kKeyed.end(), [&](const std::string& k) { return absl::StartsWith(opt, k); });
      if (!keyed && !kFlags.count(opt)) {
        return FieldError(field + ".options", absl::StrCat("unknown tmpfs option ", Quoted(opt),
                                                           " (size=, mode=, uid=, gid=, nr_inodes=, ro, rw, exec, "
                                                           "noexec, suid, nosuid)"));
      }
      if (opt == "exec") std::erase(m.options, std::string("noexec"));
      if (opt == "suid") std::erase(m.options, std::string("nosuid"));
      if (opt != "exec" && opt != "suid") m.options.push_back(opt);
    }
    std::erase_if(s.mounts, [&](const spec::Mount& x) { return x.destination == t.destination(); });
    s.mounts.push_back(std::move(m));
  }
  return absl::OkStatus();
}

absl::Status ApplyShmSize(int64_t bytes, spec::Spec& s) {
  if (bytes == 0) return absl::OkStatus();
  if (bytes < 0) return FieldError("shm_size_bytes", "must not be negative");
  for (spec::Mount& m : s.mounts) {
    if (m.destination != "/dev/shm") continue;
    std::erase_if(m.options, [](const std::string& o) { return absl::StartsWith(o, "size="); });
    m.options.push_back(absl::StrCat("size=", bytes));
  }
  return absl::OkStatus();
}

absl::Status ApplyInit(const SecurityInputs& in, spec::Spec& s) {
  struct stat st;
  if (in.init_path.empty() || ::stat(in.init_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("init: berth-init is not installed at ", Quoted(in.init_path),
                                                      "; set init_path in the agent's config"));
  }
  // On the /dev tmpfs: nothing is left in the container's own files.
  s.mounts.push_back({"/dev/init", "bind", in.init_path, {"bind", "ro", "nosuid", "nodev"}});
  s.process.args.insert(s.process.args.begin(), {"/dev/init", "--"});
  return absl::OkStatus();
}

void ApplyUserNamespace(uint32_t first_host_id, spec::Spec& s, v1::EffectiveSecurity* effective) {
  s.linux.namespaces.push_back({"user", ""});
  spec::IdMapping mapping{0, first_host_id, kUsernsRange};
  s.linux.uid_mappings = {mapping};
  s.linux.gid_mappings = {mapping};
  for (auto* list : {effective->mutable_uid_map(), effective->mutable_gid_map()}) {
    v1::IdRange* r = list->Add();
    r->set_container_id(0);
    r->set_host_id(first_host_id);
    r->set_size(kUsernsRange);
  }
}

}  // namespace

bool CleanAbsolute(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return false;
  }
  return true;
}

absl::StatusOr<std::string> CapabilityName(const std::string& name, const std::string& field) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
  if (!absl::StartsWith(upper, "CAP_")) upper = "CAP_" + upper;
  if (!spec::CapabilityNumber(upper).ok()) {
    return FieldError(field, absl::StrCat("unknown capability ", Quoted(name), " (e.g. NET_ADMIN, CAP_SYS_PTRACE, ALL)"));
  }
  return upper;
}

absl::StatusOr<std::string> UsernsMode(const v1::ContainerConfig& config, const std::string& default_userns) {
  const std::string& asked = config.security().userns();
  std::string mode = asked.empty() ? default_userns : asked;
  if (mode != "auto" && mode != "host") {
    return FieldError("security.userns", absl::StrCat("must be auto or host, got ", Quoted(asked)));
  }
  if (mode == "auto") {
    // An explicit "auto" that cannot work is an error; a default of "auto" gives way.
    const std::string& net = config.network();
    std::string why;
    if (config.security().privileged()) why = "--privileged";
    if (net == "host" || absl::StartsWith(net, "container:")) why = absl::StrCat("--network ", net);
    if (!why.empty()) {
      if (asked.empty()) return std::string("host");
      return FieldError("security.userns", absl::StrCat("auto cannot be combined with ", Quoted(why),
                                                        "; use --userns=host"));
    }
  }
  return mode;
}

absl::Status ApplySecurity(const v1::ContainerConfig& config, const SecurityInputs& in, spec::Spec& s,
                           v1::EffectiveSecurity* effective) {
  const v1::SecurityOptions& sec = config.security();
  effective->set_privileged(sec.privileged());

  absl::StatusOr<std::vector<std::string>> caps = Capabilities(sec);
  if (!caps.ok()) return caps.status();
  s.process.capabilities = CapabilitySets(*caps, s.process.user.uid);
  for (const std::string& c : *caps) effective->add_capabilities(c);

  bool nnp = sec.has_no_new_privileges() ? sec.no_new_privileges() : !sec.privileged();
  s.process.no_new_privileges = nnp;
  effective->set_no_new_privileges(nnp);

  if (absl::Status st = ApplySeccomp(sec, *caps, s, effective); !st.ok()) return st;

  for (const auto* list : {&sec.masked_paths(), &sec.readonly_paths()}) {
    for (const std::string& p : *list) {
      if (p.empty() || p[0] != '/' || p.find("/../") != std::string::npos || absl::EndsWith(p, "/..")) {
        return FieldError(list == &sec.masked_paths() ? "security.masked_paths" : "security.readonly_paths",
                          absl::StrCat(Quoted(p), " is not an absolute path without .."));
      }
    }
  }
  if (!sec.masked_paths().empty()) s.linux.masked_paths.assign(sec.masked_paths().begin(), sec.masked_paths().end());
  if (!sec.readonly_paths().empty()) {
    s.linux.readonly_paths.assign(sec.readonly_paths().begin(), sec.readonly_paths().end());
  }
  if (sec.privileged()) {
    s.linux.masked_paths.clear();
    s.linux.readonly_paths.clear();
    for (spec::Mount& m : s.mounts) {
      if (m.destination == "/sys") std::erase(m.options, std::string("ro"));
      if (m.destination == "/dev") std::erase(m.options, std::string("nodev"));
    }
  }
  for (const std::string& p : s.linux.masked_paths) effective->add_masked_paths(p);
  for (const std::string& p : s.linux.readonly_paths) effective->add_readonly_paths(p);
  if (absl::Status st = ApplyDevices(sec, s, effective); !st.ok()) return st;

  effective->set_userns(in.userns_first_host_id ? "auto" : "host");
  if (in.userns_first_host_id) ApplyUserNamespace(*in.userns_first_host_id, s, effective);

  s.root.readonly = sec.read_only_rootfs();
  effective->set_read_only_rootfs(sec.read_only_rootfs());

  if (absl::Status st = ApplySysctls(config, in, s); !st.ok()) return st;
  for (const auto& [k, v] : s.linux.sysctl) (*effective->mutable_sysctls())[k] = v;
  if (absl::Status st = ApplyUlimits(config, s); !st.ok()) return st;
  for (const spec::Rlimit& r : s.process.rlimits) {
    auto text = [](uint64_t v) { return v == ~uint64_t{0} ? std::string("unlimited") : absl::StrCat(v); };
    effective->add_rlimits(absl::StrCat(r.type, "=", text(r.soft), ":", text(r.hard)));
  }
  if (absl::Status st = ApplyTmpfs(config, s); !st.ok()) return st;
  if (absl::Status st = ApplyShmSize(config.shm_size_bytes(), s); !st.ok()) return st;
  if (config.init()) {
    if (absl::Status st = ApplyInit(in, s); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace berth::agent
