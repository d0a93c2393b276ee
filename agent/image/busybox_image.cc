#include "agent/image/busybox_image.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/image/archive.h"
#include "agent/image/digest.h"
#include "agent/image/manifest.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

extern char** environ;

namespace berth::image {

namespace {

constexpr char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Applet paths as busybox itself lists them (`busybox --list-full`, e.g. "bin/sh").
absl::StatusOr<std::vector<std::string>> ListApplets(const std::string& busybox) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoToStatus("pipe");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, wr.get(), 1);
  char arg0[] = "busybox", arg1[] = "--list-full";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, busybox.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return ErrnoStatus(rc, absl::StrCat("run ", busybox, " --list-full"));
  wr.Reset();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(busybox, " --list-full failed"));
  }
  std::vector<std::string> applets;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::string a(absl::StripPrefix(line, "/"));
    if (a.empty() || a == "bin/busybox" || a.find("..") != std::string::npos) continue;
    applets.push_back(a);
  }
  return applets;
}

std::string Hex(absl::string_view digest) { return std::string(absl::StripPrefix(digest, "sha256:")); }

}  // namespace

absl::Status BuildBusyboxLayout(const std::string& busybox_binary, const std::string& name,
                                const std::string& work_dir, const std::string& out_tar) {
  if (::access(busybox_binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("default image: ", busybox_binary, " is missing; install Debian's busybox-static"));
  }
  auto applets = ListApplets(busybox_binary);
  if (!applets.ok()) return applets.status();

  using Kind = TarEntry::Kind;
  std::vector<TarEntry> layer;
  std::set<std::string> dirs;
  auto dir = [&](const std::string& path, mode_t mode) {
    if (dirs.insert(path).second) layer.push_back({path, Kind::kDir, "", "", "", mode});
  };
  for (const char* d : {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "home", "proc", "sys", "dev", "run", "var",
                        "var/log", "var/www"}) {
    dir(d, 0755);
  }
  dir("root", 0700);
  dir("tmp", 01777);
  dir("var/tmp", 01777);
  layer.push_back({"bin/busybox", Kind::kFile, busybox_binary, "", "", 0755});
  for (const std::string& applet : *applets) {
    std::string parent = applet.substr(0, applet.rfind('/') == std::string::npos ? 0 : applet.rfind('/'));
    if (!parent.empty()) dir(parent, 0755);
    layer.push_back({applet, Kind::kSymlink, "", "", "/bin/busybox"});
  }
  layer.push_back({"etc/passwd", Kind::kFile, "",
                   "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                   "www-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
                   "", 0644});
  layer.push_back({"etc/group", Kind::kFile, "",
                   "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n", "", 0644});

  const std::string layout = work_dir + "/layout";
  const std::string blobs = layout + "/blobs/sha256";
  if (absl::Status st = MakeDirs(blobs, 0755); !st.ok()) return st;
  const std::string layer_tar = work_dir + "/layer.tar";
  if (absl::Status st = WriteTar(layer_tar, layer); !st.ok()) return Annotate(st, "default image layer");
  auto layer_bytes = ReadFile(layer_tar);
  if (!layer_bytes.ok()) return layer_bytes.status();
  const std::string layer_digest = Sha256Of(*layer_bytes);
  if (::rename(layer_tar.c_str(), (blobs + "/" + Hex(layer_digest)).c_str()) != 0) {
    return ErrnoToStatus("store default image layer");
  }

  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config", {{"Env", {kDefaultPath}}, {"Cmd", {"sh"}}, {"WorkingDir", "/"}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {layer_digest}}}},
      {"history", {{{"created_by", "berthd: Debian's busybox-static and its applet links"}}}},
  };
  const std::string config_json = config.dump();
  const std::string config_digest = Sha256Of(config_json);
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", kOciManifest},
      {"config", {{"mediaType", kOciConfig}, {"digest", config_digest}, {"size", config_json.size()}}},
      {"layers", {{{"mediaType", kOciLayer}, {"digest", layer_digest}, {"size", layer_bytes->size()}}}},
  };
  const std::string manifest_json = manifest.dump();
  const std::string manifest_digest = Sha256Of(manifest_json);
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"mediaType", kOciIndex},
      {"manifests",
       {{{"mediaType", kOciManifest},
         {"digest", manifest_digest},
         {"size", manifest_json.size()},
         {"annotations", {{"org.opencontainers.image.ref.name", name}}},
         {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}}}},
  };

  std::vector<TarEntry> out = {
      {"oci-layout", Kind::kFile, "", R"({"imageLayoutVersion":"1.0.0"})"},
      {"index.json", Kind::kFile, "", index.dump()},
      {"blobs", Kind::kDir, "", "", "", 0755},
      {"blobs/sha256", Kind::kDir, "", "", "", 0755},
      {"blobs/sha256/" + Hex(config_digest), Kind::kFile, "", config_json},
      {"blobs/sha256/" + Hex(manifest_digest), Kind::kFile, "", manifest_json},
      {"blobs/sha256/" + Hex(layer_digest), Kind::kFile, blobs + "/" + Hex(layer_digest)},
  };
  absl::Status written = WriteTar(out_tar, out);
  (void)RemoveTree(layout);
  return written;
}

}  // namespace berth::image
