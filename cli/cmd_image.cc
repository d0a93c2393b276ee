// Images (berth.v1.Images): `berth pull`, `berth images`, `berth image ls|inspect|rm|tag|
// import|export|prune`, and the docker shorthands `rmi` and `tag`. Like the container verbs,
// inspect and rm try every name, report the failures, and exit 125 if any failed.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_format.h"
#include "cli/image_format.h"
#include "cli/image_pull.h"
#include "cli/json_output.h"
#include "cli/list_format.h"
#include "cli/list_views.h"
#include "cli/output.h"
#include "cli/table.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

constexpr size_t kChunkBytes = 1 << 20;  // well below gRPC's 4 MiB message limit

struct PullOptions {
  std::string reference;
  bool quiet = false;
};

int Pull(AgentClient& client, const PullOptions& o) {
  v1::Image image;
  grpc::Status status = PullWithProgress(client, o.reference, STDOUT_FILENO, o.quiet, &image);
  if (!status.ok()) return ReportRpcError(status, client);
  return kExitOk;
}

struct ListOptions {
  bool quiet = false;
  bool no_trunc = false;
  std::string format;
};

int List(AgentClient& client, const ListOptions& o) {
  absl::StatusOr<ListFormat> format = ParseListFormat(o.format);
  if (!format.ok()) return ReportError(format.status());
  v1::ListImagesResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.images().List(&ctx, v1::ListImagesRequest(), &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::vector<v1::Image> images(response.images().begin(), response.images().end());
  if (o.quiet) {
    for (const std::string& id : ImageIds(images, o.no_trunc)) std::cout << id << "\n";
    return kExitOk;
  }
  if (format->kind == ListFormat::Kind::kJson) {
    std::vector<const google::protobuf::Message*> messages;
    for (const v1::Image& image : images) messages.push_back(&image);
    absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
    if (!json.ok()) return ReportError(json.status());
    std::cout << *json;
    return kExitOk;
  }
  if (format->kind == ListFormat::Kind::kTemplate) {
    absl::StatusOr<std::string> text =
        RenderRows(*format, ImageRowViews(images, o.no_trunc, absl::Now()), ImageHeaders());
    if (!text.ok()) return ReportError(text.status());
    std::cout << *text;
    return kExitOk;
  }
  std::cout << FormatTable(ImageTableRows(images, o.no_trunc, absl::Now()));
  return kExitOk;
}

int Inspect(AgentClient& client, const std::vector<std::string>& refs) {
  int rc = kExitOk;
  std::vector<v1::Image> found;
  for (const std::string& ref : refs) {
    v1::InspectImageRequest request;
    request.set_reference(ref);
    v1::InspectImageResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.images().Inspect(&ctx, request, &response);
    if (status.ok()) {
      found.push_back(std::move(*response.mutable_image()));
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  std::vector<const google::protobuf::Message*> messages;
  for (const v1::Image& image : found) messages.push_back(&image);
  absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
  if (!json.ok()) return ReportError(json.status());
  std::cout << *json;
  return rc;
}

struct RemoveOptions {
  std::vector<std::string> refs;
  bool force = false;
};

int Remove(AgentClient& client, const RemoveOptions& o) {
  int rc = kExitOk;
  for (const std::string& ref : o.refs) {
    v1::RemoveImageRequest request;
    request.set_reference(ref);
    request.set_force(o.force);
    v1::RemoveImageResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.images().Remove(&ctx, request, &response);
    if (status.ok()) {
      std::cout << RemovedImagesText(response) << std::flush;
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  return rc;
}

struct TagOptions {
  std::string source;
  std::string target;
};

int Tag(AgentClient& client, const TagOptions& o) {
  v1::TagImageRequest request;
  request.set_source(o.source);
  request.set_target(o.target);
  v1::TagImageResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.images().Tag(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  return kExitOk;
}

struct ImportOptions {
  std::string file;  // "-": stdin
  std::string name;  // tag the imported image with it
};

int Import(AgentClient& client, const ImportOptions& o) {
  int fd = STDIN_FILENO;
  if (o.file != "-") {
    fd = open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ReportError(absl::StrCat("open ", o.file, ": ", std::strerror(errno)));
  } else if (IsTerminal(STDIN_FILENO)) {
    return ReportError("refusing to read an image archive from a terminal; name a FILE or redirect stdin");
  }
  v1::ImportResponse response;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientWriter<v1::ImportRequest>> stream = client.images().Import(&ctx, &response);
  std::string buffer(kChunkBytes, '\0');
  std::string read_error;
  for (;;) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      read_error = absl::StrCat("read ", o.file, ": ", std::strerror(errno));
      break;
    }
    if (n == 0) break;
    v1::ImportRequest chunk;
    chunk.set_chunk(buffer.data(), static_cast<size_t>(n));
    if (!stream->Write(chunk)) break;  // the agent ended the call: Finish says why
  }
  if (fd != STDIN_FILENO) close(fd);
  if (!read_error.empty()) {
    ctx.TryCancel();
    stream->Finish();
    return ReportError(read_error);
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return ReportRpcError(status, client);

  if (!o.name.empty()) {
    if (response.images_size() != 1) {
      return ReportError(absl::StrCat("--name needs an archive of one image; this one holds ",
                                      response.images_size()));
    }
    v1::TagImageRequest request;
    request.set_source(response.images(0).id());
    request.set_target(o.name);
    v1::TagImageResponse tagged;
    grpc::ClientContext tag_ctx;
    grpc::Status tag_status = client.images().Tag(&tag_ctx, request, &tagged);
    if (!tag_status.ok()) return ReportRpcError(tag_status, client);
    *response.mutable_images(0) = tagged.image();
  }
  for (const v1::Image& image : response.images()) {
    if (image.names().empty()) {
      std::cout << "Loaded image ID: " << image.id() << "\n";
    }
    for (const std::string& name : image.names()) std::cout << "Loaded image: " << name << "\n";
  }
  return kExitOk;
}

struct ExportOptions {
  std::vector<std::string> args;  // REF... [FILE]
  std::string output;             // -o FILE
};

int Export(AgentClient& client, const ExportOptions& o) {
  // `export REF... -o FILE`, or `export REF FILE` (the last of two or more words is the
  // file), or `export REF` to stdout; "-" is stdout too.
  std::vector<std::string> refs = o.args;
  std::string file = o.output;
  if (file.empty() && refs.size() >= 2) {
    file = refs.back();
    refs.pop_back();
  }
  if (file.empty()) file = "-";
  const bool to_stdout = file == "-";
  if (to_stdout && IsTerminal(STDOUT_FILENO)) {
    return ReportError("refusing to write an image archive to a terminal; use -o FILE or redirect stdout");
  }
  // Into a temp file beside FILE, renamed at the end: a failed export leaves no torn archive.
  const std::string temp = to_stdout ? "" : absl::StrCat(file, ".tmp-", getpid());
  int fd = STDOUT_FILENO;
  if (!to_stdout) {
    fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ReportError(absl::StrCat("create ", temp, ": ", std::strerror(errno)));
  }
  v1::ExportRequest request;
  for (const std::string& ref : refs) request.add_references(ref);
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::ExportResponse>> stream = client.images().Export(&ctx, request);
  v1::ExportResponse response;
  bool write_failed = false;
  int write_errno = 0;
  while (stream->Read(&response)) {
    if (!WriteAll(fd, response.chunk())) {
      write_failed = true;
      write_errno = errno;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status status = stream->Finish();
  if (!to_stdout) {
    if (!write_failed && fsync(fd) != 0) {
      write_failed = true;
      write_errno = errno;
    }
    close(fd);
  }
  auto discard = [&] {
    if (!to_stdout) unlink(temp.c_str());
  };
  if (write_failed) {
    discard();
    return ReportError(absl::StrCat("write ", to_stdout ? "stdout" : temp, ": ", std::strerror(write_errno)));
  }
  if (!status.ok()) {
    discard();
    return ReportRpcError(status, client);
  }
  if (!to_stdout && rename(temp.c_str(), file.c_str()) != 0) {
    const int e = errno;
    discard();
    return ReportError(absl::StrCat("rename ", temp, " to ", file, ": ", std::strerror(e)));
  }
  return kExitOk;
}

struct PruneOptions {
  bool force = false;
  bool all = false;
};

int Prune(AgentClient& client, const PruneOptions& o) {
  if (!o.force && !AskToContinue(o.all ? "This will remove every image no container uses."
                                       : "This will remove every unnamed (<none>) image no container uses.")) {
    return kExitOk;
  }
  v1::PruneImagesRequest request;
  request.set_dangling_only(!o.all);
  v1::PruneImagesResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.images().Prune(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (response.deleted_size() > 0) {
    std::cout << "Deleted Images:\n";
    for (const std::string& id : response.deleted()) std::cout << "deleted: " << id << "\n";
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << HumanSize(response.reclaimed_bytes()) << std::endl;
  return kExitOk;
}

void AddListFlags(CLI::App* cmd, ListOptions& o) {
  cmd->add_flag("-q,--quiet", o.quiet, "Only print image ids");
  cmd->add_flag("--no-trunc", o.no_trunc, "Show whole image ids");
  cmd->add_option("--format", o.format,
                  "table, json, or a Go-style template: '{{.Repository}}:{{.Tag}}', "
                  "'table {{.ID}}\\t{{.Size}}' (fields .ID .Repository .Tag .Digest .CreatedSince "
                  ".CreatedAt .Size)");
}

void AddRemove(CLI::App* parent, const std::string& name, const std::string& help, CommandTable& table) {
  auto o = std::make_shared<RemoveOptions>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_flag("-f,--force", o->force, "Remove even when a container uses the image");
  cmd->add_option("images", o->refs, "References, ids or id prefixes")->required();
  table.Add(cmd, [o](AgentClient& client) { return Remove(client, *o); });
}

void AddTag(CLI::App* parent, const std::string& help, CommandTable& table) {
  auto o = std::make_shared<TagOptions>();
  CLI::App* cmd = parent->add_subcommand("tag", help);
  cmd->add_option("source", o->source, "Image: reference, id or id prefix")->required();
  cmd->add_option("target", o->target, "New reference: [REGISTRY/]REPOSITORY[:TAG]")->required();
  table.Add(cmd, [o](AgentClient& client) { return Tag(client, *o); });
}

}  // namespace

void AddImageCommands(CLI::App& app, CommandTable& table) {
  {
    auto o = std::make_shared<PullOptions>();
    CLI::App* cmd = app.add_subcommand("pull", "Pull an image from a registry");
    cmd->add_flag("-q,--quiet", o->quiet, "Print only the image's name");
    cmd->add_option("reference", o->reference, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
    table.Add(cmd, [o](AgentClient& client) { return Pull(client, *o); });
  }
  {
    auto o = std::make_shared<ListOptions>();
    CLI::App* cmd = app.add_subcommand("images", "List images");
    AddListFlags(cmd, *o);
    table.Add(cmd, [o](AgentClient& client) { return List(client, *o); });
  }
  AddRemove(&app, "rmi", "Remove images (same as image rm)", table);
  AddTag(&app, "Give an image another reference (same as image tag)", table);

  CLI::App* image = app.add_subcommand("image", "Manage images");
  image->require_subcommand(1);
  {
    auto o = std::make_shared<ListOptions>();
    CLI::App* cmd = image->add_subcommand("ls", "List images");
    cmd->alias("list");
    AddListFlags(cmd, *o);
    table.Add(cmd, [o](AgentClient& client) { return List(client, *o); });
  }
  {
    auto o = std::make_shared<PullOptions>();
    CLI::App* cmd = image->add_subcommand("pull", "Pull an image from a registry");
    cmd->add_flag("-q,--quiet", o->quiet, "Print only the image's name");
    cmd->add_option("reference", o->reference, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
    table.Add(cmd, [o](AgentClient& client) { return Pull(client, *o); });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = image->add_subcommand("inspect", "Show images in detail, as JSON");
    cmd->add_option("images", *refs, "References, ids or id prefixes")->required();
    table.Add(cmd, [refs](AgentClient& client) { return Inspect(client, *refs); });
  }
  AddRemove(image, "rm", "Remove images (their content once no image needs it)", table);
  AddTag(image, "Give an image another reference", table);
  {
    auto o = std::make_shared<ImportOptions>();
    CLI::App* cmd = image->add_subcommand(
        "import", "Import images from an OCI image layout or `docker save` tar (\"-\": stdin)");
    cmd->alias("load");
    cmd->add_option("--name", o->name, "Reference for the imported image (archives of one image)");
    cmd->add_option("file", o->file, "The tar archive, optionally gzip-compressed")->required();
    table.Add(cmd, [o](AgentClient& client) { return Import(client, *o); });
  }
  {
    auto o = std::make_shared<ExportOptions>();
    CLI::App* cmd = image->add_subcommand(
        "export", "Write images as an OCI image layout tar: REF... -o FILE, REF FILE, or REF > FILE");
    cmd->alias("save");
    cmd->add_option("-o,--output", o->output, "Write to FILE (\"-\": stdout)");
    cmd->add_option("args", o->args, "Images, then optionally the FILE")->required();
    table.Add(cmd, [o](AgentClient& client) { return Export(client, *o); });
  }
  {
    auto o = std::make_shared<PruneOptions>();
    CLI::App* cmd = image->add_subcommand("prune", "Remove unnamed (<none>) images no container uses (-a: every unused one)");
    cmd->add_flag("-a,--all", o->all, "Every image no container uses, named or not");
    cmd->add_flag("-f,--force", o->force, "Do not ask for confirmation");
    table.Add(cmd, [o](AgentClient& client) { return Prune(client, *o); });
  }
}

}  // namespace berth::cli
