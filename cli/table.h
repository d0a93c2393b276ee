// Aligned text tables for `ps`: every column as wide as its widest cell, three spaces between
// columns, no trailing blanks (docker's tabwriter layout).
#pragma once

#include <string>
#include <vector>

namespace berth::cli {

// rows[0] is the header. Each row ends in '\n'. Short rows are padded with empty cells.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace berth::cli
