// Aligned text tables for `ps`: every column as wide as its widest cell, three spaces between
// columns, no trailing blanks (docker's tabwriter layout).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace berth::cli {

// rows[0] is the header. Each row ends in '\n'. Short rows are padded with empty cells.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// Gives a cell its final text (colour) once the widths are known: the padding is computed on
// the visible text, so escapes do not shift the columns.
using CellPainter = std::function<std::string(size_t row, size_t column, const std::string& cell)>;
std::string FormatTable(const std::vector<std::vector<std::string>>& rows, const CellPainter& paint);

}  // namespace berth::cli
