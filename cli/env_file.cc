#include "cli/env_file.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/file_util.h"

namespace berth::cli {

absl::StatusOr<std::vector<std::string>> ParseEnvFile(absl::string_view text, absl::string_view what) {
  std::vector<std::string> entries;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // a file from Windows
    line = absl::StripLeadingAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::string_view key = line.substr(0, line.find('='));
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(what, " line ", number, ": the name is empty"));
    }
    if (std::find_if(key.begin(), key.end(), [](char c) { return absl::ascii_isspace(c); }) != key.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " line ", number, ": the name '", key.substr(0, 100), "' contains whitespace"));
    }
    entries.emplace_back(line);
  }
  return entries;
}

absl::StatusOr<std::vector<std::string>> ReadEnvFile(const std::string& path, absl::string_view kind) {
  absl::StatusOr<std::string> text = ReadBoundedFile(path, 1 << 20, std::string_view(kind.data(), kind.size()));
  if (!text.ok()) return text.status();
  return ParseEnvFile(*text, absl::StrCat(kind, " ", path));
}

}  // namespace berth::cli
