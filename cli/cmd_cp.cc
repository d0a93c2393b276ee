// `berth cp SRC DST`: files between the node and a container, one side written CONTAINER:PATH
// (Docker's form; a local path with a colon needs a "./" or "/" in front). "-" on the local
// side is a tar stream on stdin or stdout.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_format.h"
#include "cli/local_archive.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct CpOptions {
  std::string src;
  std::string dst;
  bool archive = false;
};

struct ContainerPath {
  std::string container;
  std::string path;
};

std::optional<ContainerPath> SplitContainerPath(const std::string& arg) {
  if (arg.empty() || arg[0] == '/' || arg[0] == '.') return std::nullopt;
  const size_t colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  if (arg.substr(0, colon).find('/') != std::string::npos) return std::nullopt;
  ContainerPath out{arg.substr(0, colon), arg.substr(colon + 1)};
  if (out.path.empty() || out.path[0] != '/') out.path = "/" + out.path;  // relative to the root
  return out;
}

int CopyIn(AgentClient& client, const std::string& local, const ContainerPath& to, bool keep_owner) {
  grpc::ClientContext ctx;
  v1::CopyToResponse response;
  auto writer = client.containers().CopyTo(&ctx, &response);
  v1::CopyToRequest first;
  first.set_id(to.container);
  first.set_path(to.path);
  first.set_keep_owner(keep_owner);
  if (!writer->Write(first)) return ReportRpcError(writer->Finish(), client);
  auto send = [&](absl::string_view data) -> absl::Status {
    v1::CopyToRequest next;
    next.set_data(std::string(data));
    if (!writer->Write(next)) return absl::UnavailableError("the agent ended the upload");
    return absl::OkStatus();
  };
  absl::Status packed;
  if (local == "-") {
    std::vector<char> buffer(256 * 1024);
    ssize_t n;
    while ((n = ::read(STDIN_FILENO, buffer.data(), buffer.size())) > 0) {
      if (packed = send(absl::string_view(buffer.data(), static_cast<size_t>(n))); !packed.ok()) break;
    }
  } else {
    packed = PackLocalPath(local, send);
  }
  if (!packed.ok() && !absl::IsUnavailable(packed)) {
    ctx.TryCancel();
    (void)writer->Finish();
    return ReportError(packed);
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return ReportRpcError(status, client);
  return kExitOk;
}

int CopyOut(AgentClient& client, const ContainerPath& from, const std::string& local, bool keep_owner) {
  std::optional<LocalUnpacker> unpacker;
  if (local != "-") {
    absl::StatusOr<LocalUnpacker> opened = LocalUnpacker::Open(local, keep_owner);
    if (!opened.ok()) return ReportError(opened.status());
    unpacker.emplace(*std::move(opened));
  }
  v1::CopyFromRequest request;
  request.set_id(from.container);
  request.set_path(from.path);
  grpc::ClientContext ctx;
  auto reader = client.containers().CopyFrom(&ctx, request);
  v1::CopyFromResponse chunk;
  absl::Status written;
  while (reader->Read(&chunk)) {
    if (chunk.data().empty() || !written.ok()) continue;
    if (unpacker) {
      written = unpacker->Feed(chunk.data());
    } else if (!std::cout.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()))) {
      written = absl::InternalError("cannot write to stdout");
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError(status, client);
  if (written.ok() && unpacker) written = unpacker->Finish();
  if (!written.ok()) return ReportError(written);
  std::cout.flush();
  return kExitOk;
}

int Copy(AgentClient& client, const CpOptions& o) {
  std::optional<ContainerPath> src = SplitContainerPath(o.src);
  std::optional<ContainerPath> dst = SplitContainerPath(o.dst);
  if (src && dst) return ReportError("copying between containers is not supported: copy to the node, then in");
  if (!src && !dst) {
    return ReportError("one of SRC and DST must be CONTAINER:PATH (write a local path with a colon as ./NAME)");
  }
  if (dst) return CopyIn(client, o.src, *dst, o.archive);
  return CopyOut(client, *src, o.dst, o.archive);
}

}  // namespace

void AddCpCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<CpOptions>();
  CLI::App* cmd = app.add_subcommand(
      "cp", "Copy files between a container and the node: cp CONTAINER:SRC DST, cp SRC CONTAINER:DST (- is a tar on stdin/stdout)");
  cmd->add_flag("-a,--archive", o->archive, "Keep the files' owners (uid and gid)");
  cmd->add_option("src", o->src, "CONTAINER:PATH or a local path")->required();
  cmd->add_option("dst", o->dst, "CONTAINER:PATH or a local path")->required();
  table.Add(cmd, [o](AgentClient& client) { return Copy(client, *o); });
}

}  // namespace berth::cli
