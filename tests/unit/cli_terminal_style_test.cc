// Colour only for a person at a terminal (NO_COLOR, TERM=dumb, pipes), tables that stay aligned
// when cells are coloured, and the roff escaping of the generated manual pages.
#include <gtest/gtest.h>

#include "cli/man_page.h"
#include "cli/ps_table.h"
#include "cli/table.h"
#include "cli/terminal_style.h"

namespace berth::cli {
namespace {

TEST(TerminalStyle, ColourOnlyOnATerminalWithoutNoColorOrDumbTerm) {
  EXPECT_TRUE(ColourWanted(true, nullptr, "xterm-256color"));
  EXPECT_TRUE(ColourWanted(true, "", "xterm"));  // NO_COLOR set but empty: no effect
  EXPECT_TRUE(ColourWanted(true, nullptr, nullptr));
  EXPECT_FALSE(ColourWanted(false, nullptr, "xterm"));
  EXPECT_FALSE(ColourWanted(true, "1", "xterm"));
  EXPECT_FALSE(ColourWanted(true, "0", "xterm"));  // any non-empty value
  EXPECT_FALSE(ColourWanted(true, nullptr, "dumb"));
}

TEST(TerminalStyle, PaintWrapsOnlyWhenOn) {
  EXPECT_EQ(Paint("Error:", Colour::kRed, true), "\033[31mError:\033[0m");
  EXPECT_EQ(Paint("Up", Colour::kGreen, true), "\033[32mUp\033[0m");
  EXPECT_EQ(Paint("Error:", Colour::kRed, false), "Error:");
  EXPECT_EQ(Paint("Created", Colour::kNone, true), "Created");
}

TEST(TerminalStyle, PaintedCellsKeepTheColumnsOfThePlainTable) {
  const std::vector<std::vector<std::string>> rows = {
      {"NAME", "STATUS", "PORTS"}, {"web", "Up 2 seconds", "80"}, {"job", "Exited (3)", ""}};
  const std::string plain = FormatTable(rows);
  const std::string painted = FormatTable(rows, [](size_t row, size_t column, const std::string& cell) {
    return row > 0 && column == 1 ? Paint(cell, Colour::kGreen, true) : cell;
  });
  EXPECT_NE(plain, painted);
  std::string stripped = painted;
  for (const std::string esc : {"\033[32m", "\033[0m"}) {
    for (size_t at; (at = stripped.find(esc)) != std::string::npos;) stripped.erase(at, esc.size());
  }
  EXPECT_EQ(stripped, plain);
}

TEST(TerminalStyle, StatusColourFollowsTheState) {
  v1::Container c;
  c.set_state(v1::RUNNING);
  EXPECT_EQ(StatusColour(c), Colour::kGreen);
  c.mutable_health()->set_status("unhealthy");
  EXPECT_EQ(StatusColour(c), Colour::kRed);
  c.clear_health();
  c.set_state(v1::PAUSED);
  EXPECT_EQ(StatusColour(c), Colour::kYellow);
  c.set_state(v1::EXITED);
  c.set_exit_code(0);
  EXPECT_EQ(StatusColour(c), Colour::kNone);
  c.set_exit_code(3);
  EXPECT_EQ(StatusColour(c), Colour::kRed);
  c.set_state(v1::CREATED);
  EXPECT_EQ(StatusColour(c), Colour::kNone);
}

TEST(ManPage, RoffEscapeKeepsTextLiteral) {
  EXPECT_EQ(RoffEscape("--no-trunc"), "\\-\\-no\\-trunc");
  EXPECT_EQ(RoffEscape("a\\tb"), "a\\etb");
  EXPECT_EQ(RoffEscape(".hidden"), "\\&.hidden");
  EXPECT_EQ(RoffEscape("'quoted'"), "\\&'quoted'");
  EXPECT_EQ(RoffEscape("x.y"), "x.y");
  EXPECT_EQ(RoffEscape("cut\xe2\x80\xa6"), "cut\\[u2026]");
  EXPECT_EQ(RoffEscape("bad\xff"), "bad\\[uFFFD]");
}

TEST(ManPage, OnePagePerCommandWithItsOptionsAndAliasPages) {
  CLI::App app{"Run things", "tool"};
  std::string host, name, output;
  bool quiet = false;
  app.add_option("-H,--host", host, "Where");
  CLI::App* net = app.add_subcommand("network", "Manage networks");
  CLI::App* create = net->add_subcommand("create", "Create a network");
  create->add_option("name", name, "Its name")->required();
  create->add_flag("-q,--quiet", quiet, "Only the id");
  create->add_option("--output", output, "Format")->capture_default_str();
  CLI::App* ls = net->add_subcommand("ls", "List networks");
  ls->alias("list");
  CLI::App* hidden = app.add_subcommand("__secret", "Not for people");
  hidden->group("");
  ManPageSettings settings;
  settings.source = "tool 1.0";
  settings.see_also = {"toold(8)"};
  const std::vector<ManPage> pages = ManPages(app, settings);
  std::vector<std::string> names;
  for (const ManPage& p : pages) names.push_back(p.file_name);
  EXPECT_EQ(names, (std::vector<std::string>{"tool.1", "tool-network.1", "tool-network-create.1",
                                             "tool-network-ls.1", "tool-network-list.1"}));
  const std::string& create_page = pages[2].text;
  EXPECT_NE(create_page.find(".TH \"TOOL\\-NETWORK\\-CREATE\" 1"), std::string::npos) << create_page;
  EXPECT_NE(create_page.find("tool\\-network\\-create \\- Create a network"), std::string::npos);
  EXPECT_NE(create_page.find("[\\fIOPTIONS\\fR] \\fINAME\\fR"), std::string::npos) << create_page;
  EXPECT_NE(create_page.find("\\fB\\-q\\fR, \\fB\\-\\-quiet\\fR\n"), std::string::npos) << create_page;
  EXPECT_NE(create_page.find("\\fB\\-\\-output\\fR \\fITEXT\\fR"), std::string::npos) << create_page;
  EXPECT_NE(create_page.find("\\fBtool\\-network\\fR(1)"), std::string::npos);
  EXPECT_EQ(pages[4].text, ".so man1/tool-network-ls.1\n");
  EXPECT_NE(pages[0].text.find("\\fBtoold\\fR(8)"), std::string::npos) << pages[0].text;
  for (const ManPage& p : pages) EXPECT_EQ(p.text.find("secret"), std::string::npos) << p.file_name;
}

}  // namespace
}  // namespace berth::cli
