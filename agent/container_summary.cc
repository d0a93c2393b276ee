#include "agent/container_summary.h"

#include "agent/proto_wire.h"

namespace berth::agent {

namespace {

using v1::Container;

// A map<string, string> entry: key 1, value 2, both written.
void PutLabel(const std::string& key, const std::string& value, std::string* out) {
  wire::PutTag(Container::kLabelsFieldNumber, wire::kLengthDelimited, out);
  wire::PutVarint(2 + wire::VarintSize(key.size()) + key.size() + wire::VarintSize(value.size()) + value.size(), out);
  wire::PutBytes(1, key, out);
  wire::PutBytes(2, value, out);
}

// config { mounts }: the mounts are all of the configuration that `ps` shows.
void PutMounts(const v1::ContainerConfig& config, std::string* out) {
  if (config.mounts().empty()) return;
  size_t body = 0;
  for (const v1::Mount& m : config.mounts()) {
    const size_t size = m.ByteSizeLong();
    body += wire::VarintSize(v1::ContainerConfig::kMountsFieldNumber << 3) + wire::VarintSize(size) + size;
  }
  wire::PutTag(Container::kConfigFieldNumber, wire::kLengthDelimited, out);
  wire::PutVarint(body, out);
  // The sizes ByteSizeLong cached above are what PutMessage writes with.
  for (const v1::Mount& m : config.mounts()) wire::PutMessage(v1::ContainerConfig::kMountsFieldNumber, m, out);
}

// health { status failing_streak }, without the log of results.
void PutHealth(const v1::Health& health, std::string* out) {
  std::string body;
  wire::PutString(v1::Health::kStatusFieldNumber, health.status(), &body);
  wire::PutInt32(v1::Health::kFailingStreakFieldNumber, health.failing_streak(), &body);
  wire::PutBytes(Container::kHealthFieldNumber, body, out);
}

}  // namespace

void AppendSummary(const Container& r, std::string* out) {
  wire::PutString(Container::kIdFieldNumber, r.id(), out);
  wire::PutString(Container::kNameFieldNumber, r.name(), out);
  wire::PutString(Container::kImageFieldNumber, r.image(), out);
  for (const std::string& arg : r.command()) wire::PutBytes(Container::kCommandFieldNumber, arg, out);
  for (const auto& [key, value] : r.labels()) PutLabel(key, value, out);
  wire::PutInt32(Container::kStateFieldNumber, r.state(), out);
  wire::PutInt32(Container::kPidFieldNumber, r.pid(), out);
  wire::PutInt32(Container::kExitCodeFieldNumber, r.exit_code(), out);
  wire::PutBool(Container::kOomKilledFieldNumber, r.oom_killed(), out);
  if (r.has_created_at()) wire::PutMessage(Container::kCreatedAtFieldNumber, r.created_at(), out);
  if (r.has_started_at()) wire::PutMessage(Container::kStartedAtFieldNumber, r.started_at(), out);
  if (r.has_finished_at()) wire::PutMessage(Container::kFinishedAtFieldNumber, r.finished_at(), out);
  wire::PutString(Container::kErrorFieldNumber, r.error(), out);
  if (r.has_config()) PutMounts(r.config(), out);
  if (r.has_network_settings()) wire::PutMessage(Container::kNetworkSettingsFieldNumber, r.network_settings(), out);
  wire::PutString(Container::kImageIdFieldNumber, r.image_id(), out);
  wire::PutInt32(Container::kRestartCountFieldNumber, r.restart_count(), out);
  wire::PutBool(Container::kStoppedByCallerFieldNumber, r.stopped_by_caller(), out);
  if (r.has_health()) PutHealth(r.health(), out);
}

}  // namespace berth::agent
