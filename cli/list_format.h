// What the --format of a listing (ps, images, network ls) asks for, and the text it makes of
// the rows: the command's own table, its JSON, a template per row, or docker's
// `table TEMPLATE` (a header row from the template's fields, then the rows, cells aligned at
// tabs by the project's table printer).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "cli/go_template.h"

namespace berth::cli {

struct ListFormat {
  enum class Kind { kDefaultTable, kJson, kTemplate };
  Kind kind = Kind::kDefaultTable;
  bool table = false;  // kTemplate: "table TEMPLATE"
  GoTemplate row;
};

// "" and "table": the default table; "json": the command's JSON; "table TEMPLATE": a header
// and aligned rows; anything else: TEMPLATE once per row. In a template, the two characters
// \t and \n read as a tab and a newline, as docker reads them.
absl::StatusOr<ListFormat> ParseListFormat(std::string_view format);

// docker's escapes of a list format: backslash-t is a tab, backslash-n a newline.
std::string ExpandFormatEscapes(std::string_view format);

// A kTemplate format applied to `rows`, each row's output followed by "\n". With `table`, a
// header first: the template's outline with each field F named headers[F], else F upper-cased;
// when the output has tabs, every line is cut at them and the cells aligned (FormatTable).
absl::StatusOr<std::string> RenderRows(const ListFormat& format, const std::vector<nlohmann::json>& rows,
                                       const std::map<std::string, std::string, std::less<>>& headers);

}  // namespace berth::cli
