// CriRuntimeService: container lifecycle events as a stream (from the agent's event hub),
// checkpoints, and the metrics calls.
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/cri/cri_labels.h"
#include "agent/cri/cri_runtime_service.h"
#include "agent/grpc_status.h"
#include "runtime/base/quote.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

namespace {

// The CRI event a Berth container event stands for, if any.
std::optional<cri::ContainerEventType> CriEventType(const std::string& type) {
  if (type == "container.create") return cri::CONTAINER_CREATED_EVENT;
  if (type == "container.start" || type == "container.restart") return cri::CONTAINER_STARTED_EVENT;
  if (type == "container.exit") return cri::CONTAINER_STOPPED_EVENT;
  if (type == "container.remove") return cri::CONTAINER_DELETED_EVENT;
  return std::nullopt;
}

// A container removed before its event was sent (the stream runs behind the lifecycle): its
// status as far as the event tells it, so that a STOPPED event still carries the exit.
v1::Container FromEvent(const v1::Event& event, cri::ContainerEventType type) {
  v1::Container c;
  c.set_id(event.id());
  c.set_name(event.name());
  *c.mutable_labels() = event.labels();
  if (auto image = event.attributes().find("image"); image != event.attributes().end()) c.set_image(image->second);
  switch (type) {
    case cri::CONTAINER_STARTED_EVENT:
      c.set_state(v1::RUNNING);
      *c.mutable_started_at() = event.time();
      break;
    case cri::CONTAINER_STOPPED_EVENT:
      c.set_state(v1::EXITED);
      c.set_exit_code(event.exit_code());
      c.set_oom_killed(event.oom_killed());
      *c.mutable_finished_at() = event.time();
      break;
    default:
      c.set_state(v1::CREATED);
      *c.mutable_created_at() = event.time();
      break;
  }
  return c;
}

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
    if (!dir.empty() && ::access(absl::StrCat(dir, "/", program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

grpc::Status CriRuntimeService::GetContainerEvents(grpc::ServerContext* ctx, const cri::GetEventsRequest*,
                                                   grpc::ServerWriter<cri::ContainerEventResponse>* writer) {
  if (options_.events == nullptr) {
    return ToGrpcStatus(absl::FailedPreconditionError("this agent publishes no events"));
  }
  auto subscription = options_.events->Subscribe([ctx] { ctx->TryCancel(); });
  struct Unsubscribe {
    EventHub* hub;
    std::shared_ptr<EventSubscription> subscription;
    ~Unsubscribe() { hub->Unsubscribe(subscription); }
  } unsubscribe{options_.events, subscription};
  while (!ctx->IsCancelled()) {
    std::optional<v1::Event> event = subscription->Next(absl::Milliseconds(500));
    if (!event) {
      if (subscription->overflowed()) {
        return ToGrpcStatus(absl::ResourceExhaustedError("the event stream fell too far behind; subscribe again"));
      }
      continue;
    }
    std::optional<cri::ContainerEventType> type = CriEventType(event->type());
    auto kind = event->labels().find(kKindLabel);
    if (!type || kind == event->labels().end()) continue;  // not a CRI object's lifecycle
    cri::ContainerEventResponse out;
    out.set_container_id(event->id());
    out.set_container_event_type(*type);
    out.set_created_at(UnixNanos(event->time()));
    // The objects as they are now (gone after a DELETED event).
    const bool is_sandbox = kind->second == kSandboxKind;
    auto sandbox_id = event->labels().find(kSandboxIdLabel);
    auto sandbox = containers_.Inspect(is_sandbox ? event->id()
                                                  : sandbox_id == event->labels().end() ? "" : sandbox_id->second);
    if (sandbox.ok() && IsKind(*sandbox, kSandboxKind)) PodStatusOf(*sandbox, out.mutable_pod_sandbox_status());
    if (!is_sandbox && *type != cri::CONTAINER_DELETED_EVENT) {
      auto container = containers_.Inspect(event->id());
      ContainerStatusOf(container.ok() ? *container : FromEvent(*event, *type), out.add_containers_statuses());
    }
    if (!writer->Write(out)) break;
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::CheckpointContainer(grpc::ServerContext*, const cri::CheckpointContainerRequest* req,
                                                    cri::CheckpointContainerResponse*) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  if (!OnPath("criu")) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "checkpointing needs criu, which is not installed on this node (Debian: apt-get install criu)");
  }
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "criu is installed, but this Berth does not checkpoint containers with it yet");
}

grpc::Status CriRuntimeService::ListMetricDescriptors(grpc::ServerContext*, const cri::ListMetricDescriptorsRequest*,
                                                      cri::ListMetricDescriptorsResponse*) {
  // The kubelet takes pod and container figures from the stats calls above; Berth offers no
  // further metrics through the CRI (its own are on --metrics-listen), so the list is empty.
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandboxMetrics(grpc::ServerContext*, const cri::ListPodSandboxMetricsRequest*,
                                                      cri::ListPodSandboxMetricsResponse*) {
  return grpc::Status::OK;  // no descriptors, so no metrics (see ListMetricDescriptors)
}

}  // namespace berth::agent::cri
