// Volume and tmpfs mounts of a Create: validated, volumes acquired and filled, and the two
// views of the config (as recorded, as the spec needs it).
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/container_manager.h"
#include "agent/security_spec.h"
#include "agent/volume_copy.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent {
namespace {

const std::set<std::string>& Propagations() {
  static const auto* kModes = new std::set<std::string>{"private", "rprivate", "shared", "rshared", "slave", "rslave"};
  return *kModes;
}

absl::Status CheckMountFields(const v1::Mount& m, int index, std::set<std::string>& destinations) {
  const std::string field = absl::StrCat("mounts[", index, "]");
  auto bad = [&](absl::string_view what) { return absl::InvalidArgumentError(absl::StrCat(field, ": ", what)); };
  if (m.type() != v1::MOUNT_TYPE_BIND && m.type() != v1::MOUNT_TYPE_VOLUME && m.type() != v1::MOUNT_TYPE_TMPFS) {
    return bad(absl::StrCat("unknown mount type ", static_cast<int>(m.type()), " (bind, volume or tmpfs)"));
  }
  if (m.type() != v1::MOUNT_TYPE_BIND && (!CleanAbsolute(m.destination()) || m.destination() == "/")) {
    return bad(absl::StrCat("destination must be an absolute container path other than / without \"..\", got ",
                            Quoted(m.destination())));
  }
  std::string destination = m.destination();
  while (destination.size() > 1 && destination.back() == '/') destination.pop_back();
  if (!destinations.insert(destination).second) {
    return bad(absl::StrCat("duplicate mount point ", Quoted(destination)));
  }
  if (!m.propagation().empty()) {
    if (m.type() != v1::MOUNT_TYPE_BIND) return bad("bind-propagation applies to bind mounts only");
    if (!Propagations().count(m.propagation())) {
      return bad(absl::StrCat("bind-propagation ", Quoted(m.propagation()),
                              ": want private, rprivate, shared, rshared, slave or rslave"));
    }
  }
  if (m.type() != v1::MOUNT_TYPE_TMPFS && (m.tmpfs_size_bytes() != 0 || m.tmpfs_mode() != 0)) {
    return bad("tmpfs-size and tmpfs-mode apply to tmpfs mounts only");
  }
  if (m.type() != v1::MOUNT_TYPE_VOLUME && m.no_copy()) return bad("volume-nocopy applies to volume mounts only");
  if (m.type() != v1::MOUNT_TYPE_BIND && m.idmap()) return bad("idmap applies to bind mounts only");
  if (m.type() == v1::MOUNT_TYPE_TMPFS) {
    if (!m.source().empty()) return bad(absl::StrCat("a tmpfs mount takes no source, got ", Quoted(m.source())));
    if (m.tmpfs_size_bytes() < 0) return bad("tmpfs-size must not be negative");
    if (m.tmpfs_mode() > 07777) return bad(absl::StrFormat("tmpfs-mode %o is not a file mode (at most 7777)", m.tmpfs_mode()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ContainerManager::MountPlan> ContainerManager::PlanMounts(const v1::ContainerConfig& config,
                                                                         const std::string& id,
                                                                         const image::Image& image,
                                                                         std::optional<uint32_t> userns_root) {
  std::set<std::string> destinations;
  bool wants_volumes = false;
  for (int i = 0; i < config.mounts_size(); ++i) {
    if (absl::Status st = CheckMountFields(config.mounts(i), i, destinations); !st.ok()) return st;
    wants_volumes |= config.mounts(i).type() == v1::MOUNT_TYPE_VOLUME;
  }
  if (wants_volumes && options_.volumes == nullptr) {
    return absl::FailedPreconditionError("volume mounts: this agent has no volume store");
  }

  MountPlan plan;
  plan.recorded = config;
  plan.for_spec = config;
  plan.for_spec.clear_mounts();
  std::vector<std::string> layers_top_first(image.layers.rbegin(), image.layers.rend());
  auto fail = [&](const absl::Status& st) {
    ReleaseVolumes(id, /*remove_anonymous=*/true, plan.created_volumes);
    return st;
  };
  for (int i = 0; i < config.mounts_size(); ++i) {
    const v1::Mount& m = config.mounts(i);
    if (m.type() == v1::MOUNT_TYPE_BIND) {
      *plan.for_spec.add_mounts() = m;
      continue;
    }
    if (m.type() == v1::MOUNT_TYPE_TMPFS) {
      v1::TmpfsMount* t = plan.for_spec.add_tmpfs();
      t->set_destination(m.destination());
      if (m.tmpfs_size_bytes() > 0) t->add_options(absl::StrCat("size=", m.tmpfs_size_bytes()));
      t->add_options(absl::StrFormat("mode=%o", m.tmpfs_mode() != 0 ? m.tmpfs_mode() : 01777));
      if (m.read_only()) t->add_options("ro");
      continue;
    }
    auto acquired = options_.volumes->Acquire(m.source(), id);
    if (!acquired.ok()) return fail(Annotate(acquired.status(), absl::StrCat("mounts[", i, "]")));
    if (acquired->created) plan.created_volumes.push_back(acquired->name);
    plan.recorded.mutable_mounts(i)->set_source(acquired->name);
    if (acquired->created && userns_root && ::chown(acquired->data_path.c_str(), *userns_root, *userns_root) != 0) {
      return fail(ErrnoToStatus(absl::StrCat("chown ", acquired->data_path)));
    }
    if (!m.no_copy()) {
      absl::Status copied =
          CopyImageDirIntoVolume(layers_top_first, m.destination(), acquired->data_path, userns_root.value_or(0));
      if (!copied.ok()) {
        // Leave the volume as empty as it was, so the next mount tries again.
        (void)RemoveTree(acquired->data_path);
        (void)MakeDirs(acquired->data_path, 0755);
        return fail(Annotate(copied, absl::StrCat("volume ", Quoted(acquired->name))));
      }
    }
    v1::Mount* bind = plan.for_spec.add_mounts();
    bind->set_type(v1::MOUNT_TYPE_BIND);
    bind->set_source(acquired->data_path);
    bind->set_destination(m.destination());
    bind->set_read_only(m.read_only());
  }
  return plan;
}

void ContainerManager::ReleaseVolumes(const std::string& id, bool remove_anonymous,
                                      const std::vector<std::string>& created) {
  if (options_.volumes != nullptr) options_.volumes->Release(id, remove_anonymous, created);
}

void ContainerManager::ReacquireVolumes(const v1::Container& record) {
  if (options_.volumes == nullptr) return;
  for (const v1::Mount& m : record.config().mounts()) {
    if (m.type() != v1::MOUNT_TYPE_VOLUME || m.source().empty()) continue;
    auto acquired = options_.volumes->Acquire(m.source(), record.id());
    if (!acquired.ok()) {
      spdlog::warn("container id={} volume {}: {}", record.id(), m.source(), std::string(acquired.status().message()));
    } else if (acquired->created) {
      spdlog::warn("container id={} volume {} was missing: made again, empty", record.id(), m.source());
    }
  }
}

}  // namespace berth::agent
