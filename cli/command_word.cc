#include "cli/command_word.h"

#include <array>
#include <string_view>

namespace berth::cli {
namespace {

// The global options that take a value (main.cc declares them).
constexpr std::array<std::string_view, 7> kValueOptions = {"-H",        "--host",    "--tlscacert", "--tlscert",
                                                           "--tlskey", "--cluster", "--node"};

bool TakesValue(std::string_view arg) {
  for (std::string_view option : kValueOptions) {
    if (arg == option) return true;
  }
  return false;
}

// "--host=x", or "-Hx" (a short option glued to its value).
bool CarriesValue(std::string_view arg) {
  for (std::string_view option : kValueOptions) {
    if (option.size() == 2 ? arg.size() > 2 && arg.substr(0, 2) == option
                           : arg.size() > option.size() && arg.substr(0, option.size()) == option &&
                                 arg[option.size()] == '=') {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string CommandWord(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.empty() || arg[0] != '-') return std::string(arg);
    if (TakesValue(arg)) {
      ++i;  // its value
      continue;
    }
    if (CarriesValue(arg)) continue;
    return "";  // --help, --version, "--", or an option this does not know
  }
  return "";
}

}  // namespace berth::cli
