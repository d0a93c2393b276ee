// Manual pages generated from a CLI11 command tree, the same definitions the program parses
// with: one page per command in git's naming (berth(1), berth-network-create(1)), each with
// its synopsis, description, subcommands, arguments and options, in plain man(7) roff.
// Depends on CLI11 only, so that berthd can build its own page too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace berth::cli {

struct ManPageSettings {
  std::string section = "1";
  std::string source;                 // the footer's left: "berth 0.1.0"
  std::string manual = "Berth Manual";
  std::string extra_root_sections;    // roff appended to the top page (ENVIRONMENT, FILES...)
  std::vector<std::string> see_also;  // more references on the top page: "berthd(8)"
};

struct ManPage {
  std::string file_name;  // "berth-network-create.1"
  std::string text;
};

// Every visible command of `app` (named by app.get_name()), the top one first. An alias gets a
// page that only sources its command's page (".so man1/berth-network-ls.1").
std::vector<ManPage> ManPages(const CLI::App& app, const ManPageSettings& settings);

// Plain text made safe for a roff text line: backslashes, hyphens (\-), a leading '.' or '\'',
// and every non-ASCII character as a \[uXXXX] escape (no preprocessor needed).
std::string RoffEscape(std::string_view text);

// Writes the pages into `dir` (created if missing); false with `error` set when it cannot.
bool WriteManPages(const std::vector<ManPage>& pages, const std::string& dir, std::string& error);

}  // namespace berth::cli
