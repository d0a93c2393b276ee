#include "runtime/container/prepared_mounts.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/mount_api.h"
#include "runtime/container/mount_options.h"
#include "runtime/container/sync_channel.h"
#include "runtime/container/user_namespace.h"

namespace berth::container_internal {

namespace {

struct OverlayLayout {
  std::vector<std::string> lowers;  // topmost first
  std::string upper, work;
};

std::optional<OverlayLayout> OverlayFromAnnotations(const spec::Spec& spec) {
  auto lower = spec.annotations.find(spec::kAnnotationOverlayLower);
  if (lower == spec.annotations.end()) return std::nullopt;
  OverlayLayout layout;
  layout.lowers = absl::StrSplit(lower->second, ':', absl::SkipEmpty());
  if (auto it = spec.annotations.find(spec::kAnnotationOverlayUpper); it != spec.annotations.end()) {
    layout.upper = it->second;
  }
  if (auto it = spec.annotations.find(spec::kAnnotationOverlayWork); it != spec.annotations.end()) {
    layout.work = it->second;
  }
  return layout;
}

absl::Status CheckOverlay(const OverlayLayout& layout) {
  if (layout.lowers.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("annotations.", spec::kAnnotationOverlayLower, ": no layers"));
  }
  if (layout.upper.empty() != layout.work.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("annotations: ", spec::kAnnotationOverlayUpper,
                                                   " and ", spec::kAnnotationOverlayWork,
                                                   " go together"));
  }
  return absl::OkStatus();
}

// The image's device nodes stay inert: nothing in the root counts as a device.
const MountAttributes kOverlayAttributes = {MOUNT_ATTR_NODEV, 0};

absl::StatusOr<UniqueFd> MakeBind(const spec::Mount& m) {
  MountOptions opts = ParseMountOptions(m.options);
  absl::StatusOr<UniqueFd> tree = CloneMountTree(AT_FDCWD, m.source, opts.recursive);
  if (!tree.ok()) return WithContext(tree.status(), absl::StrCat("mount bind ", m.source, " on ", m.destination));
  absl::Status st = SetMountAttributes(tree->get(), AttributesFromFlags(opts.flags), opts.recursive);
  if (!st.ok()) return WithContext(st, absl::StrCat("mount bind ", m.source, " on ", m.destination));
  return tree;
}

}  // namespace

bool IsBindMount(const spec::Mount& mount) {
  return mount.type == "bind" || ParseMountOptions(mount.options).bind;
}

absl::StatusOr<PreparedMounts> PrepareMounts(const spec::Spec& spec, bool user_namespace) {
  PreparedMounts out;
  std::optional<OverlayLayout> overlay = OverlayFromAnnotations(spec);
  if (overlay) RETURN_IF_ERROR(CheckOverlay(*overlay));
  if (!user_namespace) {
    if (overlay) {
      absl::StatusOr<UniqueFd> root =
          MakeOverlay(overlay->lowers, overlay->upper, overlay->work, kOverlayAttributes);
      if (!root.ok()) return WithContext(root.status(), "overlay rootfs");
      out.root = std::move(*root);
    } else {
      ASSIGN_OR_RETURN(out.root, CloneMountTree(AT_FDCWD, spec.root.path, /*recursive=*/true));
    }
  }
  out.binds.resize(spec.mounts.size());
  out.idmap.resize(spec.mounts.size());
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const spec::Mount& m = spec.mounts[i];
    if (!IsBindMount(m)) continue;
    ASSIGN_OR_RETURN(out.binds[i], MakeBind(m));
    out.idmap[i] = ParseMountOptions(m.options).idmap || !m.uid_mappings.empty();
  }
  return out;
}

absl::Status FinishInUserNamespace(const spec::Spec& spec, int userns_fd, PreparedMounts& mounts) {
  for (size_t i = 0; i < mounts.binds.size(); ++i) {
    if (!mounts.idmap[i]) continue;
    const spec::Mount& m = spec.mounts[i];
    absl::Status st = SetMountAttributes(mounts.binds[i].get(), {}, ParseMountOptions(m.options).recursive,
                                         userns_fd);
    if (!st.ok()) return WithContext(st, absl::StrCat("idmap bind ", m.source, " on ", m.destination));
  }
  std::optional<OverlayLayout> overlay = OverlayFromAnnotations(spec);
  if (!overlay) {
    // A plain root is used as it is, like runc: its files must belong to the mapped ids.
    ASSIGN_OR_RETURN(mounts.root, CloneMountTree(AT_FDCWD, spec.root.path, /*recursive=*/true));
    return absl::OkStatus();
  }
  std::vector<UniqueFd> layers;
  std::vector<int> layer_fds;
  for (const std::string& lower : overlay->lowers) {
    absl::StatusOr<UniqueFd> layer = CloneMountTree(AT_FDCWD, lower, /*recursive=*/false);
    if (!layer.ok()) return WithContext(layer.status(), "idmapped image layer");
    absl::Status st = SetMountAttributes(layer->get(), {}, /*recursive=*/false, userns_fd);
    if (!st.ok()) {
      if (ErrnoOf(st) == EINVAL || ErrnoOf(st) == ENOSYS) {
        return absl::FailedPreconditionError(absl::StrCat(
            "user namespaces need idmapped mounts of the image layers, which this kernel or the "
            "file system of ", lower, " does not support (", st.message(), ")"));
      }
      return WithContext(st, absl::StrCat("idmap layer ", lower));
    }
    layer_fds.push_back(layer->get());
    layers.push_back(std::move(*layer));
  }
  if (!overlay->upper.empty()) {
    std::optional<uint32_t> uid = HostIdOf(0, spec.linux.uid_mappings);
    std::optional<uint32_t> gid = HostIdOf(0, spec.linux.gid_mappings);
    if (uid && gid) {
      for (const std::string* dir : {&overlay->upper, &overlay->work}) {
        if (::chown(dir->c_str(), *uid, *gid) != 0) {
          return SysError(absl::StrCat("give ", *dir, " to the container's root"));
        }
      }
    }
  }
  absl::StatusOr<UniqueFd> root = MakeOverlay(layer_fds, overlay->upper, overlay->work, kOverlayAttributes);
  if (!root.ok()) return WithContext(root.status(), "overlay rootfs");
  mounts.root = std::move(*root);
  return absl::OkStatus();
}

}  // namespace berth::container_internal
