// The hidden `berth __man DIR`: writes the manual pages of every command into DIR, generated
// from this very command tree (the build runs it; see cli/CMakeLists.txt).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/man_page.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "unknown"
#endif

namespace berth::cli {
namespace {

// What the top page says beyond the options: the variables read and the exit codes.
constexpr const char* kBerthSections = R"ROFF(.SH ENVIRONMENT
.TP
.B BERTH_HOST
The agent to talk to, as \fB\-\-host\fR; a flag beats the variable.
.TP
.B BERTH_CONTEXT
The context to use instead of the current one (see \fBberth\-context\fR(1)).
.TP
.BR BERTH_TLS_CACERT ", " BERTH_TLS_CERT ", " BERTH_TLS_KEY
The TLS files of a tcp:// agent, as \fB\-\-tlscacert\fR, \fB\-\-tlscert\fR and \fB\-\-tlskey\fR.
.TP
.BR BERTH_CLUSTER ", " BERTH_NODE
The cluster inventory and the node of it to talk to, as \fB\-\-cluster\fR and \fB\-\-node\fR.
.TP
.B NO_COLOR
When set and not empty, no colour is used. Colour is used only on a terminal whose
\fBTERM\fR is not \fBdumb\fR, and never in \fB\-\-format\fR or JSON output.
.SH EXIT STATUS
0 on success; 125 when \fBberth\fR itself fails (a usage error, an error of the agent);
126 when a container's command cannot be run and 127 when it is not found.
\fBrun\fR and \fBexec\fR pass the container's own exit code through.
)ROFF";

}  // namespace

void AddManCommand(CLI::App& app, CommandTable& table) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("__man", "Write the manual pages of every command into DIR");
  cmd->group("");  // hidden: the build's, not a person's
  cmd->add_option("dir", *dir, "Directory for the pages (man1)")->required();
  CLI::App* root = &app;
  table.AddLocal(cmd, [dir, root] {
    ManPageSettings settings;
    settings.section = "1";
    settings.source = std::string("berth ") + BERTH_VERSION;
    settings.extra_root_sections = kBerthSections;
    settings.see_also = {"berthd(8)"};
    std::string error;
    if (!WriteManPages(ManPages(*root, settings), *dir, error)) return ReportError(error);
    return kExitOk;
  });
}

}  // namespace berth::cli
