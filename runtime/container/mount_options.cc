#include "runtime/container/mount_options.h"

#include <sys/mount.h>

#include "absl/strings/str_cat.h"

namespace berth::container_internal {

namespace {

struct FlagOption {
  const char* name;
  bool clear;  // "rw", "suid", ...: clears the flag
  unsigned long flag;
};

constexpr FlagOption kFlagOptions[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
};

struct PropagationOption {
  const char* name;
  unsigned long flags;
};

constexpr PropagationOption kPropagation[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

}  // namespace

MountOptions ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions out;
  for (const std::string& opt : options) {
    bool known = false;
    for (const FlagOption& f : kFlagOptions) {
      if (opt == f.name) {
        if (f.clear) {
          out.flags &= ~f.flag;
        } else {
          out.flags |= f.flag;
        }
        known = true;
        break;
      }
    }
    if (known) continue;
    for (const PropagationOption& p : kPropagation) {
      if (opt == p.name) {
        out.propagation = p.flags;
        known = true;
        break;
      }
    }
    if (known) continue;
    if (opt == "bind") {
      out.bind = true;
    } else if (opt == "rbind") {
      out.bind = true;
      out.recursive = true;
    } else if (opt == "idmap" || opt == "ridmap") {
      out.idmap = true;
    } else if (!opt.empty()) {
      if (!out.data.empty()) out.data += ',';
      out.data += opt;
    }
  }
  return out;
}

std::vector<std::string> MountOptionNames() {
  std::vector<std::string> names;
  for (const FlagOption& f : kFlagOptions) names.emplace_back(f.name);
  for (const PropagationOption& p : kPropagation) names.emplace_back(p.name);
  for (const char* extra : {"bind", "rbind", "idmap", "ridmap"}) names.emplace_back(extra);
  return names;
}

absl::StatusOr<unsigned long> ParsePropagation(const std::string& name) {
  if (name.empty()) return MS_PRIVATE | MS_REC;
  for (const PropagationOption& p : kPropagation) {
    if (name == p.name) return p.flags;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("linux.rootfsPropagation: unknown propagation \"", name, "\""));
}

}  // namespace berth::container_internal
