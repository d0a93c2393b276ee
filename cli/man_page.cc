#include "cli/man_page.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace berth::cli {
namespace {

bool Visible(const CLI::App& sub) { return !sub.get_name().empty() && !sub.get_group().empty(); }

std::vector<const CLI::App*> VisibleSubcommands(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (Visible(*sub)) out.push_back(sub);
  }
  return out;
}

std::string Join(const std::vector<std::string>& words, const std::string& separator) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += separator;
    out += w;
  }
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A page reference: \fBberth\-ps\fR(1).
std::string Reference(const std::string& page, const std::string& section) {
  return "\\fB" + RoffEscape(page) + "\\fR(" + section + ")";
}

// A macro argument in double quotes (a quote inside becomes \(dq).
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : RoffEscape(text)) {
    if (c == '"') {
      out += "\\(dq";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Text that may span lines, as text lines: blank lines (which roff would print) are dropped.
std::string TextLines(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos) out += RoffEscape(line.substr(first)) + "\n";
    start = end + 1;
  }
  return out;
}

// "NAME", "[NAME]", "CONTAINER..." for a positional argument.
std::string PositionalSynopsis(const CLI::Option& opt) {
  std::string word = "\\fI" + RoffEscape(Upper(opt.get_name())) + "\\fR";
  if (opt.get_items_expected_max() > 1) word += "...";
  return opt.get_required() ? word : "[" + word + "]";
}

// As CLI11's own help decides: a flag has no type name to show.
bool TakesValue(const CLI::Option& opt) { return opt.get_type_size() != 0 && !opt.get_type_name().empty(); }

// One-line descriptions are written without a full stop; a page reads them as sentences.
std::string Sentence(std::string text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
  if (!text.empty() && (std::isalnum(static_cast<unsigned char>(text.back())) || text.back() == ')' ||
                        text.back() == ']')) {
    text += '.';
  }
  return text;
}

// The .TP tag of an option: \fB\-d\fR, \fB\-\-driver\fR \fITEXT\fR
std::string OptionTag(const CLI::Option& opt) {
  std::vector<std::string> names;
  for (const std::string& s : opt.get_snames()) names.push_back("\\fB" + RoffEscape("-" + s) + "\\fR");
  for (const std::string& l : opt.get_lnames()) names.push_back("\\fB" + RoffEscape("--" + l) + "\\fR");
  std::string tag = Join(names, ", ");
  if (TakesValue(opt)) {
    tag += " \\fI" + RoffEscape(opt.get_type_name()) + "\\fR";
  }
  return tag;
}

std::string OptionText(const CLI::Option& opt) {
  std::string text = Sentence(opt.get_description());
  if (TakesValue(opt) && !opt.get_default_str().empty()) text += " Default: " + opt.get_default_str() + ".";
  if (!opt.get_envname().empty()) text += " Environment: " + opt.get_envname() + ".";
  if (opt.get_required()) text += " Required.";
  return TextLines(text);
}

struct Command {
  const CLI::App* app;
  std::vector<std::string> path;  // {"berth", "network", "create"}
};

std::string PageName(const std::vector<std::string>& path) { return Join(path, "-"); }

std::string Page(const Command& command, const Command* parent, const ManPageSettings& settings) {
  const CLI::App& app = *command.app;
  const std::string name = PageName(command.path);
  const std::string& section = settings.section;
  const std::vector<const CLI::App*> subs = VisibleSubcommands(app);
  std::vector<const CLI::Option*> positionals;
  std::vector<const CLI::Option*> options;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty()) continue;  // hidden
    (opt->get_positional() ? positionals : options).push_back(opt);
  }

  std::string out = ".\\\" Generated from the program's own command definitions; do not edit.\n";
  out += ".TH " + Quoted(Upper(name)) + " " + section + " \"\" " + Quoted(settings.source) + " " +
         Quoted(settings.manual) + "\n";
  out += ".SH NAME\n" + RoffEscape(name) + " \\- " + RoffEscape(app.get_description()) + "\n";

  out += ".SH SYNOPSIS\n.B " + RoffEscape(Join(command.path, " ")) + "\n";
  std::vector<std::string> synopsis;
  if (!options.empty()) synopsis.push_back("[\\fIOPTIONS\\fR]");
  if (!subs.empty()) synopsis.push_back("\\fICOMMAND\\fR");
  for (const CLI::Option* opt : positionals) synopsis.push_back(PositionalSynopsis(*opt));
  if (!synopsis.empty()) out += Join(synopsis, " ") + "\n";

  out += ".SH DESCRIPTION\n" + TextLines(Sentence(app.get_description()));
  if (!app.get_aliases().empty()) {
    std::vector<std::string> aliases;
    for (const std::string& a : app.get_aliases()) {
      std::vector<std::string> path = command.path;
      path.back() = a;
      aliases.push_back("\\fB" + RoffEscape(Join(path, " ")) + "\\fR");
    }
    out += "Also spelled " + Join(aliases, ", ") + ".\n";
  }
  if (!app.get_footer().empty()) out += ".PP\n" + TextLines(app.get_footer());
  if (parent != nullptr) {
    out += ".PP\nThe options of " + Reference(command.path.front(), section) +
           " (which agent to talk to) go before the command words.\n";
  }

  if (!subs.empty()) {
    out += ".SH COMMANDS\n";
    for (const CLI::App* sub : subs) {
      std::vector<std::string> path = command.path;
      path.push_back(sub->get_name());
      out += ".TP\n.B " + RoffEscape(sub->get_name()) + "\n" + TextLines(Sentence(sub->get_description())) +
             "See " + Reference(PageName(path), section) + ".\n";
    }
  }
  if (!positionals.empty()) {
    out += ".SH ARGUMENTS\n";
    for (const CLI::Option* opt : positionals) {
      out += ".TP\n.I " + RoffEscape(Upper(opt->get_name())) + "\n" + OptionText(*opt);
    }
  }
  if (!options.empty()) {
    out += ".SH OPTIONS\n";
    for (const CLI::Option* opt : options) out += ".TP\n" + OptionTag(*opt) + "\n" + OptionText(*opt);
  }
  if (parent == nullptr) out += settings.extra_root_sections;

  std::vector<std::string> see_also;
  if (parent != nullptr) see_also.push_back(Reference(PageName(parent->path), section));
  for (const CLI::App* sub : subs) {
    std::vector<std::string> path = command.path;
    path.push_back(sub->get_name());
    see_also.push_back(Reference(PageName(path), section));
  }
  if (parent == nullptr) {
    for (const std::string& ref : settings.see_also) {
      const size_t paren = ref.find('(');
      see_also.push_back(paren == std::string::npos
                             ? "\\fB" + RoffEscape(ref) + "\\fR"
                             : Reference(ref.substr(0, paren), ref.substr(paren + 1, ref.size() - paren - 2)));
    }
  }
  if (!see_also.empty()) out += ".SH SEE ALSO\n" + Join(see_also, ",\n") + "\n";
  return out;
}

void Walk(const Command& command, const Command* parent, const ManPageSettings& settings,
          std::vector<ManPage>& out) {
  const std::string name = PageName(command.path);
  out.push_back({name + "." + settings.section, Page(command, parent, settings)});
  for (const std::string& alias : command.app->get_aliases()) {
    std::vector<std::string> path = command.path;
    path.back() = alias;
    out.push_back({PageName(path) + "." + settings.section,
                   ".so man" + settings.section + "/" + name + "." + settings.section + "\n"});
  }
  for (const CLI::App* sub : VisibleSubcommands(*command.app)) {
    Command child{sub, command.path};
    child.path.push_back(sub->get_name());
    Walk(child, &command, settings, out);
  }
}

}  // namespace

std::string RoffEscape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c == '\\') {
        out += "\\e";
      } else if (c == '-') {
        out += "\\-";
      } else if ((c == '.' || c == '\'') && i == 0) {
        out += "\\&";
        out += static_cast<char>(c);
      } else if (c == '\t') {
        out += ' ';
      } else if (c >= 0x20 && c != 0x7f) {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // One UTF-8 sequence; a malformed byte becomes U+FFFD.
    size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    uint32_t code = length == 4 ? c & 0x07 : length == 3 ? c & 0x0f : c & 0x1f;
    bool good = length > 1 && i + length <= text.size();
    for (size_t k = 1; good && k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) good = false;
      code = (code << 6) | (next & 0x3f);
    }
    if (!good) {
      code = 0xfffd;
      length = 1;
    }
    char escape[16];
    std::snprintf(escape, sizeof(escape), "\\[u%04X]", static_cast<unsigned>(code));
    out += escape;
    i += length;
  }
  return out;
}

std::vector<ManPage> ManPages(const CLI::App& app, const ManPageSettings& settings) {
  std::vector<ManPage> out;
  Walk(Command{&app, {app.get_name()}}, nullptr, settings, out);
  return out;
}

bool WriteManPages(const std::vector<ManPage>& pages, const std::string& dir, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "create " + dir + ": " + ec.message();
    return false;
  }
  for (const ManPage& page : pages) {
    const std::string path = dir + "/" + page.file_name;
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << page.text;
    file.close();
    if (!file) {
      error = "write " + path + ": failed";
      return false;
    }
  }
  return true;
}

}  // namespace berth::cli
