#include "tests/conformance/critest_images.h"

#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

constexpr char kE2eRepo[] = "e2e-test-images/";        // on registry.k8s.io
constexpr char kCriToolsRepo[] = "k8s-staging-cri-tools/";  // on gcr.io

// procps' pgrep as far as critest uses it: the pids whose command name is $1.
constexpr char kPgrep[] = R"(#!/bin/sh
status=1
for dir in /proc/[0-9]*; do
  read -r comm < "$dir/comm" 2>/dev/null || continue
  if [ "$comm" = "$1" ]; then echo "${dir#/proc/}"; status=0; fi
done
exit $status
)";

// util-linux's ipcs -m: the shared memory segments of the IPC namespace.
constexpr char kIpcs[] = R"(#!/bin/sh
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch     status"
tail -n +2 /proc/sysvipc/shm | while read -r key shmid perms size cpid lpid nattch uid rest; do
  printf '0x%08x %-10s %-10s %-10s %-10s %-10s\n' "$key" "$shmid" "$uid" "$perms" "$size" "$nattch"
done
)";

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "www-data:x:33:33:www-data:/var/www:/bin/false\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "daemon:x:1:\n"
    "www-data:x:33:\n"
    "nogroup:x:65534:\n";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("read ", path));
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

// Busybox with every applet a hard link, /etc with root, www-data and nobody, pgrep and ipcs.
absl::StatusOr<Image> BaseImage(const std::string& busybox) {
  absl::StatusOr<std::string> binary = ReadFile(busybox);
  if (!binary.ok()) return binary.status();
  CliResult list = RunProgram({busybox, "--list-full"}, "", 30);
  if (list.exit_code != 0) return absl::InternalError(absl::StrCat(busybox, " --list-full: ", list.err));
  std::vector<TarItem> items;
  for (const char* dir : {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "usr/local", "usr/local/bin", "etc",
                          "var", "var/run", "var/www", "home", "proc", "sys", "dev"}) {
    items.push_back(Dir(dir));
  }
  items.push_back(Dir("root", 0700));
  items.push_back(Dir("tmp", 01777));
  items.push_back(File("bin/busybox", *binary, 0755));
  // A dynamic busybox brings the node's libraries it links (ldd names them, loader included).
  CliResult ldd = RunProgram({"/usr/bin/ldd", busybox}, "", 30);
  const bool is_static = absl::StrContains(ldd.out + ldd.err, "not a dynamic executable");
  if (ldd.exit_code != 0 && !is_static) return absl::InternalError(absl::StrCat("ldd ", busybox, ": ", ldd.err));
  std::set<std::string> lib_dirs;
  for (absl::string_view line : absl::StrSplit(is_static ? "" : ldd.out, '\n', absl::SkipEmpty())) {
    for (absl::string_view word : absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      if (!absl::StartsWith(word, "/")) continue;
      std::string path(word.substr(1));
      absl::StatusOr<std::string> library = ReadFile(std::string(word));
      if (!library.ok()) return library.status();
      for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        if (lib_dirs.insert(path.substr(0, slash)).second) items.push_back(Dir(path.substr(0, slash)));
      }
      items.push_back(File(path, *library, 0755));
    }
  }
  for (absl::string_view applet : absl::StrSplit(list.out, '\n', absl::SkipEmpty())) {
    if (applet == "bin/busybox" || applet == "linuxrc") continue;
    items.push_back(Hardlink(std::string(applet), "bin/busybox"));
  }
  items.push_back(File("usr/bin/pgrep", kPgrep, 0755));
  items.push_back(File("usr/bin/ipcs", kIpcs, 0755));
  items.push_back(File("etc/passwd", kPasswd));
  items.push_back(File("etc/group", kGroup));
  items.push_back(File("etc/hostname", "busybox\n"));

  Image image;
  image.config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config",
       {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}, {"Cmd", {"sh"}}}},
  };
  image.layers.push_back(MakeLayer(items));
  image.Seal();
  return image;
}

Image Derived(const Image& base, const std::vector<TarItem>& items,
              const std::function<void(nlohmann::json& config)>& edit = nullptr) {
  Image image = items.empty() ? base : base.With(MakeLayer(items));
  if (edit) edit(image.config["config"]);
  image.Seal();
  return image;
}

Image WithUser(const Image& base, const std::string& user) {
  return Derived(base, {}, [&](nlohmann::json& c) { c["User"] = user; });
}

}  // namespace

absl::StatusOr<std::vector<std::string>> PushCritestImages(TestRegistry& registry,
                                                           const CritestImagePrograms& programs) {
  absl::StatusOr<Image> base = BaseImage(programs.busybox);
  if (!base.ok()) return base.status();
  absl::StatusOr<std::string> web = ReadFile(programs.web_server);
  if (!web.ok()) return web.status();
  absl::StatusOr<std::string> nnp = ReadFile(programs.nnp);
  if (!nnp.ok()) return nnp.status();

  std::vector<std::string> pushed;
  auto push = [&](const std::string& host, const std::string& repo, const std::string& tag,
                  const Image& image) -> absl::Status {
    if (absl::Status st = registry.PushImage(repo, tag, image); !st.ok()) {
      return absl::InternalError(absl::StrCat("push ", repo, ":", tag, ": ", st.message()));
    }
    pushed.push_back(absl::StrCat(host, "/", repo, ":", tag));
    return absl::OkStatus();
  };
  // Upstream's gcr.io images are multi-platform indexes; these hold the amd64 image alone.
  auto push_index = [&](const std::string& repo, const std::string& tag, const Image& image) -> absl::Status {
    absl::StatusOr<std::string> digest = registry.PushIndex(repo, tag, {IndexEntry{&image, "linux", "amd64"}});
    if (!digest.ok()) return absl::InternalError(absl::StrCat("push ", repo, ":", tag, ": ", digest.status().message()));
    pushed.push_back(absl::StrCat("gcr.io/", repo, ":", tag));
    return absl::OkStatus();
  };
  const std::string e2e = kE2eRepo;
  const std::string tools = kCriToolsRepo;

  // registry.k8s.io/e2e-test-images: the default image, the web servers, nonewprivs.
  Image busybox = *base;
  Image nginx = Derived(*base, {File("usr/sbin/nginx", *web, 0755)}, [](nlohmann::json& c) {
    c["Cmd"] = {"nginx", "-g", "daemon off;"};
    c["ExposedPorts"] = {{"80/tcp", nlohmann::json::object()}};
    c["StopSignal"] = "SIGQUIT";
  });
  Image httpd = Derived(*base,
                        {Dir("usr/local/apache2"), Dir("usr/local/apache2/bin"),
                         File("usr/local/apache2/bin/httpd", *web, 0755)},
                        [](nlohmann::json& c) {
                          c["Env"] = {"PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
                          c["Cmd"] = {"httpd", "-D", "FOREGROUND"};
                          c["ExposedPorts"] = {{"80/tcp", nlohmann::json::object()}};
                          c["StopSignal"] = "SIGWINCH";
                        });
  TarItem setuid_nnp = File("usr/local/bin/nnp", *nnp, 04755);
  Image nonewprivs = Derived(*base, {setuid_nnp}, [](nlohmann::json& c) { c["Cmd"] = {"/usr/local/bin/nnp"}; });
  for (absl::Status st : {push("registry.k8s.io", e2e + "busybox", "1.29-2", busybox),
                          push("registry.k8s.io", e2e + "nginx", "1.14-2", nginx),
                          push("registry.k8s.io", e2e + "httpd", "2.4.39-4", httpd),
                          push("registry.k8s.io", e2e + "nonewprivs", "1.3", nonewprivs)}) {
    if (!st.ok()) return st;
  }

  // gcr.io/k8s-staging-cri-tools: the images of cri-tools' images/ directory.
  Image hostnet_nginx = Derived(nginx, {}, [](nlohmann::json& c) {
    c["Env"].push_back("BERTH_WEB_PORT=12003");
    c["ExposedPorts"] = {{"12003/tcp", nlohmann::json::object()}};
  });
  Image predefined_group = Derived(
      *base,
      {File("etc/passwd", absl::StrCat(kPasswd, "default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n")),
       File("etc/group", absl::StrCat(kGroup, "default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n")),
       Dir("home/default-user")},
      [](nlohmann::json& c) { c["User"] = "1000"; });
  for (absl::Status st : {push_index(tools + "hostnet-nginx-amd64", "latest", hostnet_nginx),
                          push_index(tools + "test-image-user-uid", "latest", WithUser(*base, "1002")),
                          push_index(tools + "test-image-user-username", "latest", WithUser(*base, "www-data")),
                          push_index(tools + "test-image-user-uid-group", "latest", WithUser(*base, "1003:1004")),
                          push_index(tools + "test-image-user-username-group", "latest",
                                     WithUser(*base, "www-data:1004")),
                          push_index(tools + "test-image-predefined-group", "latest", predefined_group)}) {
    if (!st.ok()) return st;
  }
  // image-test: busybox with one empty file named after the image or tag (ADD ${TEST} ${TEST}).
  auto marked = [&](const std::string& name) { return Derived(*base, {File(name, "")}); };
  for (const char* n : {"test-image-1", "test-image-2", "test-image-3", "test-image-latest"}) {
    if (absl::Status st = push_index(tools + n, "latest", marked(n)); !st.ok()) return st;
  }
  for (const char* tag : {"test", "all"}) {
    if (absl::Status st = push_index(tools + "test-image-tag", tag, marked(tag)); !st.ok()) return st;
  }
  // Three tags of one image.
  const Image tags = marked("test-image-tags");
  for (const char* tag : {"1", "2", "3"}) {
    if (absl::Status st = push_index(tools + "test-image-tags", tag, tags); !st.ok()) return st;
  }
  // The benchmarks' images: Docker's busybox variants on public.ecr.aws, five distinct images.
  for (const char* tag : {"1.35.0-glibc", "1-uclibc", "1", "1-glibc", "1-musl"}) {
    Image variant = marked(absl::StrCat("busybox-", tag));
    if (absl::Status st = push("public.ecr.aws", "docker/library/busybox", tag, variant); !st.ok()) return st;
  }
  return pushed;
}

}  // namespace berth::testing
