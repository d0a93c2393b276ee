// features: what this runtime implements, in the shape runc 1.1+ prints (the OCI runtime
// "features" document), so callers can check before they ask.
#include <iostream>
#include <nlohmann/json.hpp>

#include <seccomp.h>

#include "absl/strings/str_cat.h"
#include "runtime/container/mount_options.h"
#include "runtime/runtime_cli/commands.h"
#include "runtime/spec/spec.h"

namespace berth::runtime_cli {

namespace {

std::string FeaturesJson() {
  using Json = nlohmann::ordered_json;
  spec::SeccompNames seccomp = spec::KnownSeccompNames();
  const scmp_version* version = seccomp_version();
  Json doc = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.3.0"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions", container_internal::MountOptionNames()},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
        {"capabilities", spec::AllCapabilityNames()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", seccomp.actions},
          {"operators", seccomp.operators},
          {"archs", seccomp.archs},
          {"knownFlags", seccomp.flags},
          {"supportedFlags", seccomp.flags}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", true}}}}}}},
      {"annotations",
       {{"io.github.seccomp.libseccomp.version",
         absl::StrCat(version->major, ".", version->minor, ".", version->micro)},
        {"dev.berth.runtime.version", BERTH_VERSION}}},
  };
  return doc.dump(4);
}

}  // namespace

void AddFeaturesCommand(CLI::App& app, Invocation& inv) {
  CLI::App* features = app.add_subcommand("features", "what this runtime implements, as JSON");
  features->callback([&inv] {
    if (inv.Prepare()) std::cout << FeaturesJson() << "\n";
  });
}

}  // namespace berth::runtime_cli
