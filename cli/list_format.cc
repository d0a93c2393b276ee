#include "cli/list_format.h"

#include <cctype>

#include "absl/strings/str_split.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

constexpr std::string_view kTablePrefix = "table";

// "table" alone or followed by whitespace.
bool IsTableFormat(std::string_view format) {
  return format.substr(0, kTablePrefix.size()) == kTablePrefix &&
         (format.size() == kTablePrefix.size() ||
          std::isspace(static_cast<unsigned char>(format[kTablePrefix.size()])));
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string ExpandFormatEscapes(std::string_view format) {
  std::string out;
  out.reserve(format.size());
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '\\' && i + 1 < format.size() && (format[i + 1] == 't' || format[i + 1] == 'n')) {
      out += format[i + 1] == 't' ? '\t' : '\n';
      ++i;
    } else {
      out += format[i];
    }
  }
  return out;
}

absl::StatusOr<ListFormat> ParseListFormat(std::string_view format) {
  ListFormat parsed;
  std::string_view trimmed = format;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.remove_suffix(1);
  if (trimmed.empty() || trimmed == kTablePrefix) return parsed;
  if (trimmed == "json") {
    parsed.kind = ListFormat::Kind::kJson;
    return parsed;
  }
  std::string_view text = format;
  if (IsTableFormat(format)) {
    parsed.table = true;
    text.remove_prefix(kTablePrefix.size());
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  }
  absl::StatusOr<GoTemplate> row = GoTemplate::Parse(ExpandFormatEscapes(text));
  if (!row.ok()) return row.status();
  parsed.kind = ListFormat::Kind::kTemplate;
  parsed.row = *std::move(row);
  return parsed;
}

absl::StatusOr<std::string> RenderRows(const ListFormat& format, const std::vector<nlohmann::json>& rows,
                                       const std::map<std::string, std::string, std::less<>>& headers) {
  std::string out;
  if (format.table) {
    out = format.row.RenderOutline([&](std::string_view field) -> std::string {
      auto it = headers.find(field);
      return it != headers.end() ? it->second : Upper(field);
    });
    out += '\n';
  }
  for (const nlohmann::json& row : rows) {
    absl::StatusOr<std::string> text = format.row.Execute(row);
    if (!text.ok()) return text.status();
    out += *text;
    out += '\n';
  }
  if (!format.table || out.find('\t') == std::string::npos) return out;
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  lines.pop_back();  // after the last '\n'
  for (const std::string& line : lines) cells.push_back(absl::StrSplit(line, '\t'));
  return FormatTable(cells);
}

}  // namespace berth::cli
