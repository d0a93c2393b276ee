// spec: a default config.json to edit, as `runc spec` writes one.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"
#include "runtime/runtime_cli/commands.h"
#include "runtime/spec/spec.h"

namespace berth::runtime_cli {

namespace {

absl::Status WriteDefaultSpec(const std::string& bundle) {
  spec::Spec spec = spec::DefaultSpec();
  spec.process.args = {"sh"};
  spec.process.terminal = true;
  spec.hostname = "berth";
  std::string path = (bundle.empty() ? std::string(".") : bundle) + "/config.json";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(path, " already exists; remove it first"));
    }
    return ErrnoToStatus(absl::StrCat("create ", path));
  }
  std::string text = spec::SerializeSpec(spec);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoToStatus(absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

void AddSpecCommand(CLI::App& app, Invocation& inv) {
  auto bundle = std::make_shared<std::string>();
  CLI::App* spec = app.add_subcommand("spec", "write a default config.json into the bundle");
  spec->add_option("-b,--bundle", *bundle, "the bundle directory (default: the current one)");
  spec->callback([&inv, bundle] {
    if (inv.Prepare()) inv.Fail(WriteDefaultSpec(*bundle));
  });
}

}  // namespace berth::runtime_cli
