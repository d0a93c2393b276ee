#include "cli/table.h"

#include <algorithm>

#include "cli/human_format.h"

namespace berth::cli {

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  return FormatTable(rows, nullptr);
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows, const CellPainter& paint) {
  constexpr size_t kGap = 3;
  size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      const std::string cell = i < row.size() ? row[i] : std::string();
      line += paint && !cell.empty() ? paint(r, i, cell) : cell;
      if (i + 1 < columns) line.append(widths[i] - DisplayWidth(cell) + kGap, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace berth::cli
