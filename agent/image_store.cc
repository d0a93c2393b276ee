#include "agent/image_store.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

extern char** environ;

namespace berth::agent {

namespace {

constexpr char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Applet names as busybox itself lists them (`busybox --list-full`): run once, at image build.
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
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) applets.emplace_back(line);
  return applets;
}

absl::Status CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  auto data = ReadFile(from);
  if (!data.ok()) return data.status();
  UniqueFd fd(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return ErrnoToStatus(absl::StrCat("create ", to));
  if (::write(fd.get(), data->data(), data->size()) != static_cast<ssize_t>(data->size())) {
    return ErrnoToStatus(absl::StrCat("write ", to));
  }
  return absl::OkStatus();
}

absl::Status BuildBusyboxRootfs(const std::string& busybox, const std::string& image_dir) {
  const std::string rootfs = image_dir + "/rootfs";
  for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "proc", "sys", "dev", "home",
                        "var/tmp", "var/log", "run"}) {
    if (absl::Status st = MakeDirs(absl::StrCat(rootfs, "/", d)); !st.ok()) return st;
  }
  ::chmod((rootfs + "/tmp").c_str(), 01777);
  ::chmod((rootfs + "/var/tmp").c_str(), 01777);
  if (absl::Status st = CopyFile(busybox, rootfs + "/bin/busybox", 0755); !st.ok()) return st;
  auto applets = ListApplets(busybox);
  if (!applets.ok()) return applets.status();
  for (std::string applet : *applets) {
    if (!applet.empty() && applet[0] != '/') applet.insert(0, "/");  // busybox lists "bin/sh"
    if (applet.size() < 2 || applet == "/bin/busybox" || applet.find("/..") != std::string::npos) continue;
    std::string link = rootfs + applet;
    if (::symlink("/bin/busybox", link.c_str()) != 0 && errno != EEXIST) {
      return ErrnoToStatus(absl::StrCat("symlink ", link));
    }
  }
  struct {
    const char* path;
    const char* text;
  } files[] = {
      {"/etc/passwd",
       "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
       "www-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
      {"/etc/group", "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n"},
      {"/etc/hostname", "busybox\n"},
      {"/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
      {"/etc/resolv.conf", ""},
  };
  for (const auto& f : files) {
    if (absl::Status st = WriteFileAtomic(rootfs + f.path, f.text); !st.ok()) return st;
  }
  nlohmann::json config = {{"entrypoint", nlohmann::json::array()},
                           {"cmd", {"sh"}},
                           {"env", {kDefaultPath}},
                           {"working_dir", "/"},
                           {"user", ""}};
  return WriteFileAtomic(image_dir + "/image.json", config.dump(2));
}

std::vector<std::string> Strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array()) {
    for (const auto& v : j[key]) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

}  // namespace

absl::Status ImageStore::EnsureBusybox(const std::string& busybox_binary) {
  const std::string final_dir = dir_ + "/busybox";
  struct stat st;
  if (::stat((final_dir + "/image.json").c_str(), &st) == 0) return absl::OkStatus();
  if (::access(busybox_binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("default image: ", busybox_binary,
                                                      " is missing; install Debian's busybox-static"));
  }
  if (absl::Status s = MakeDirs(dir_); !s.ok()) return s;
  const std::string tmp = absl::StrCat(dir_, "/.tmp-busybox-", ::getpid());
  (void)RemoveTree(tmp);
  if (absl::Status s = BuildBusyboxRootfs(busybox_binary, tmp); !s.ok()) {
    (void)RemoveTree(tmp);
    return Annotate(s, "build default image busybox");
  }
  (void)RemoveTree(final_dir);  // a half-made one without image.json
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    absl::Status s = ErrnoToStatus(absl::StrCat("rename ", tmp, " to ", final_dir));
    (void)RemoveTree(tmp);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Image> ImageStore::Get(const std::string& reference) const {
  std::string name(absl::StripSuffix(reference, ":latest"));
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.' || name.find(':') != std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no such image: ", reference, " (local images: busybox)"));
  }
  const std::string image_dir = absl::StrCat(dir_, "/", name);
  auto text = ReadFile(image_dir + "/image.json");
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("no such image: ", reference));
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return absl::InternalError(absl::StrCat("image ", name, ": image.json is corrupt"));
  Image image;
  image.name = name;
  image.rootfs = image_dir + "/rootfs";
  image.config.entrypoint = Strings(j, "entrypoint");
  image.config.cmd = Strings(j, "cmd");
  image.config.env = Strings(j, "env");
  image.config.working_dir = j.value("working_dir", "");
  image.config.user = j.value("user", "");
  return image;
}

namespace {
// Lines of an /etc/passwd-style file, split at ':'.
std::vector<std::vector<std::string>> ReadColonFile(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  auto text = ReadFile(path);
  if (!text.ok()) return rows;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    rows.push_back(absl::StrSplit(line, ':'));
  }
  return rows;
}
}  // namespace

absl::StatusOr<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& user) {
  ResolvedUser out;
  if (user.empty()) return out;
  std::vector<std::string> parts = absl::StrSplit(user, absl::MaxSplits(':', 1));
  const std::string& who = parts[0];
  auto passwd = ReadColonFile(rootfs + "/etc/passwd");
  auto groups = ReadColonFile(rootfs + "/etc/group");
  std::string user_name;
  if (absl::SimpleAtoi(who, &out.uid)) {
    for (const auto& row : passwd) {
      uint32_t uid;
      if (row.size() >= 4 && absl::SimpleAtoi(row[2], &uid) && uid == out.uid) {
        user_name = row[0];
        absl::SimpleAtoi(row[3], &out.gid);
      }
    }
  } else {
    bool found = false;
    for (const auto& row : passwd) {
      if (row.size() >= 4 && row[0] == who && absl::SimpleAtoi(row[2], &out.uid) &&
          absl::SimpleAtoi(row[3], &out.gid)) {
        found = true;
        user_name = who;
        break;
      }
    }
    if (!found) return absl::InvalidArgumentError(absl::StrCat("user \"", who, "\" not found in the image's /etc/passwd"));
  }
  if (parts.size() == 2) {
    const std::string& group = parts[1];
    if (!absl::SimpleAtoi(group, &out.gid)) {
      bool found = false;
      for (const auto& row : groups) {
        if (row.size() >= 3 && row[0] == group && absl::SimpleAtoi(row[2], &out.gid)) {
          found = true;
          break;
        }
      }
      if (!found) return absl::InvalidArgumentError(absl::StrCat("group \"", group, "\" not found in the image's /etc/group"));
    }
  }
  if (!user_name.empty()) {
    for (const auto& row : groups) {
      if (row.size() < 4) continue;
      for (absl::string_view member : absl::StrSplit(row[3], ',', absl::SkipEmpty())) {
        uint32_t gid;
        if (member == user_name && absl::SimpleAtoi(row[2], &gid) && gid != out.gid) out.additional_gids.push_back(gid);
      }
    }
  }
  return out;
}

}  // namespace berth::agent
