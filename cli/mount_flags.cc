#include "cli/mount_flags.h"

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/human_format.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// Lexically normal, without a trailing slash (except "/" itself).
std::string CleanPath(const std::filesystem::path& p) {
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

absl::StatusOr<std::string> NodePath(const std::string& source, const std::string& cwd, const std::string& what) {
  std::filesystem::path path(source);
  if (path.is_relative()) {
    if (cwd.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": cannot resolve the relative source ", Quote(source), " without a working directory"));
    }
    path = std::filesystem::path(cwd) / path;
  }
  return CleanPath(path);
}

absl::StatusOr<bool> ParseBool(const std::string& key, const std::string& value, const std::string& what) {
  if (value.empty() || value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", key, "=", Quote(value), ": want true or false"));
}

}  // namespace

absl::StatusOr<v1::Mount> ParseVolume(std::string_view spec, const std::string& cwd) {
  const std::string text(spec);
  const std::string what = absl::StrCat("invalid volume ", Quote(text));
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  if (parts.size() > 3 || parts[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected SRC:DST[:OPTIONS], NAME:DST or DST"));
  }
  v1::Mount mount;
  if (parts.size() == 1) {  // "-v /data": an anonymous volume
    parts = {"", parts[0]};
    mount.set_type(v1::MOUNT_TYPE_VOLUME);
  }
  const std::string& src = parts[0];
  const std::string& dst = parts[1];
  if (dst.empty() || dst.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the destination must be an absolute path"));
  }
  if (!src.empty() && (src.front() == '/' || src.front() == '.')) {
    absl::StatusOr<std::string> path = NodePath(src, cwd, what);
    if (!path.ok()) return path.status();
    mount.set_source(*path);
  } else if (!src.empty()) {
    if (src.front() == '~') {
      return absl::InvalidArgumentError(absl::StrCat(what, ": the shell did not expand ~; write the absolute path"));
    }
    mount.set_type(v1::MOUNT_TYPE_VOLUME);
    mount.set_source(src);  // the agent checks the name
  }
  mount.set_destination(CleanPath(dst));
  if (parts.size() == 3) {
    for (const std::string& opt : std::vector<std::string>(absl::StrSplit(parts[2], ','))) {
      if (opt == "ro") {
        mount.set_read_only(true);
      } else if (opt == "rw") {
      } else if (opt == "nocopy" && mount.type() == v1::MOUNT_TYPE_VOLUME) {
        mount.set_no_copy(true);
      } else if (opt == "idmap" && mount.type() == v1::MOUNT_TYPE_BIND) {
        mount.set_idmap(true);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": unknown option ", Quote(opt),
            mount.type() == v1::MOUNT_TYPE_VOLUME ? " (ro, rw, nocopy)" : " (ro, rw, idmap)"));
      }
    }
  }
  return mount;
}

absl::StatusOr<v1::Mount> ParseMount(std::string_view spec, const std::string& cwd) {
  const std::string text(spec);
  const std::string what = absl::StrCat("--mount ", Quote(text));
  v1::Mount mount;
  mount.set_type(v1::MOUNT_TYPE_VOLUME);
  std::string type = "volume", source, destination, propagation, tmpfs_size, tmpfs_mode;
  bool read_only = false, no_copy = false;
  for (const std::string& field : std::vector<std::string>(absl::StrSplit(text, ',', absl::SkipEmpty()))) {
    const size_t eq = field.find('=');
    const std::string key = field.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (key == "type") {
      type = value;
    } else if (key == "src" || key == "source") {
      source = value;
    } else if (key == "dst" || key == "destination" || key == "target") {
      destination = value;
    } else if (key == "ro" || key == "readonly") {
      absl::StatusOr<bool> b = ParseBool(key, value, what);
      if (!b.ok()) return b.status();
      read_only = *b;
    } else if (key == "bind-propagation") {
      propagation = value;
    } else if (key == "tmpfs-size") {
      tmpfs_size = value;
    } else if (key == "tmpfs-mode") {
      tmpfs_mode = value;
    } else if (key == "volume-nocopy") {
      absl::StatusOr<bool> b = ParseBool(key, value, what);
      if (!b.ok()) return b.status();
      no_copy = *b;
    } else if (key == "consistency") {
      // macOS file sharing hints; nothing to do on Linux, as with Docker.
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": unknown key ", Quote(key),
          " (type, src, dst, ro, bind-propagation, tmpfs-size, tmpfs-mode, volume-nocopy)"));
    }
  }
  if (destination.empty() || destination.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(what, ": dst= must be an absolute path in the container"));
  }
  mount.set_destination(CleanPath(destination));
  mount.set_read_only(read_only);
  auto only_for = [&](bool given, const char* key, const char* kind) -> absl::Status {
    if (!given) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", key, " applies to ", kind, " mounts only"));
  };
  if (type == "bind") {
    mount.set_type(v1::MOUNT_TYPE_BIND);
    if (source.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": a bind mount needs src="));
    absl::StatusOr<std::string> path = NodePath(source, cwd, what);
    if (!path.ok()) return path.status();
    mount.set_source(*path);
    mount.set_propagation(propagation);
  } else if (type == "volume") {
    mount.set_source(source);  // empty: an anonymous volume
    mount.set_no_copy(no_copy);
  } else if (type == "tmpfs") {
    mount.set_type(v1::MOUNT_TYPE_TMPFS);
    if (!source.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": a tmpfs mount takes no src="));
    if (!tmpfs_size.empty()) {
      absl::StatusOr<int64_t> bytes = ParseMemoryBytes(tmpfs_size);
      if (!bytes.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": tmpfs-size: ", bytes.status().message()));
      mount.set_tmpfs_size_bytes(*bytes);
    }
    if (!tmpfs_mode.empty()) {
      size_t used = 0;
      unsigned long mode = 0;
      try {
        mode = std::stoul(tmpfs_mode, &used, 8);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != tmpfs_mode.size() || mode > 07777) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": tmpfs-mode ", Quote(tmpfs_mode), ": want octal, e.g. 1770"));
      }
      mount.set_tmpfs_mode(static_cast<uint32_t>(mode));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(what, ": type ", Quote(type), ": want bind, volume or tmpfs"));
  }
  if (absl::Status st = only_for(!propagation.empty() && type != "bind", "bind-propagation", "bind"); !st.ok()) return st;
  if (absl::Status st = only_for((!tmpfs_size.empty() || !tmpfs_mode.empty()) && type != "tmpfs", "tmpfs-size/tmpfs-mode", "tmpfs"); !st.ok()) return st;
  if (absl::Status st = only_for(no_copy && type != "volume", "volume-nocopy", "volume"); !st.ok()) return st;
  return mount;
}

}  // namespace berth::cli
