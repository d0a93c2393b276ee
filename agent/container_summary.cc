#include "agent/container_summary.h"

namespace berth::agent {

void CopySummary(const v1::Container& record, v1::Container* summary) {
  summary->set_id(record.id());
  summary->set_name(record.name());
  summary->set_image(record.image());
  summary->set_image_id(record.image_id());
  *summary->mutable_command() = record.command();
  *summary->mutable_labels() = record.labels();
  summary->set_state(record.state());
  summary->set_pid(record.pid());
  summary->set_exit_code(record.exit_code());
  summary->set_oom_killed(record.oom_killed());
  if (record.has_created_at()) *summary->mutable_created_at() = record.created_at();
  if (record.has_started_at()) *summary->mutable_started_at() = record.started_at();
  if (record.has_finished_at()) *summary->mutable_finished_at() = record.finished_at();
  summary->set_error(record.error());
  summary->set_restart_count(record.restart_count());
  summary->set_stopped_by_caller(record.stopped_by_caller());
  if (record.has_health()) {
    summary->mutable_health()->set_status(record.health().status());
    summary->mutable_health()->set_failing_streak(record.health().failing_streak());
  }
  if (record.has_network_settings()) *summary->mutable_network_settings() = record.network_settings();
  if (record.config().mounts_size() > 0) *summary->mutable_config()->mutable_mounts() = record.config().mounts();
}

}  // namespace berth::agent
