#include "agent/events_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "agent/event_filter.h"
#include "agent/grpc_status.h"

namespace berth::agent {

using google::protobuf::util::TimeUtil;

grpc::Status EventsService::Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                                      grpc::ServerWriter<v1::Event>* writer) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto matcher = EventMatcher::From(req->filter());
  if (!matcher.ok()) return ToGrpcStatus(matcher.status());
  if (req->has_since_time() && (req->since_time().seconds() < TimeUtil::kTimestampMinSeconds ||
                                req->since_time().seconds() > TimeUtil::kTimestampMaxSeconds ||
                                req->since_time().nanos() < 0 || req->since_time().nanos() > 999999999)) {
    return ToGrpcStatus(absl::InvalidArgumentError("since_time is not a valid timestamp"));
  }

  // Subscribed before the history is read, so that nothing falls between the two.
  auto subscription = hub_.Subscribe([ctx] { ctx->TryCancel(); });
  absl::Cleanup unsubscribe = [&] { hub_.Unsubscribe(subscription); };
  const uint64_t live_after = subscription->live_after();
  EventJournal& journal = hub_.journal();

  uint64_t after = live_after;  // the last sequence number handled (sent or filtered out)
  if (req->since_case() == v1::SubscribeRequest::kSinceSequence) {
    after = req->since_sequence();
    if (after > live_after) {
      return ToGrpcStatus(absl::OutOfRangeError(absl::StrCat("event ", after, " has not happened; the newest is ",
                                                             live_after)));
    }
  } else if (req->since_case() == v1::SubscribeRequest::kSinceTime) {
    auto before = journal.SequenceBefore(absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(req->since_time())));
    if (!before.ok()) return ToGrpcStatus(before.status());
    after = std::min(*before, live_after);
  }
  bool client_gone = false;
  auto send = [&](const v1::Event& event) {
    after = event.sequence();
    if (matcher->Matches(event) && !writer->Write(event)) client_gone = true;
    return !client_gone && !ctx->IsCancelled();
  };
  if (after < live_after) {
    if (absl::Status st = journal.ReadAfter(after, live_after, send); !st.ok()) return ToGrpcStatus(st);
  }
  // Live events; a gone client is noticed within the poll interval.
  while (!client_gone && !ctx->IsCancelled()) {
    std::optional<v1::Event> event = subscription->Next(absl::Milliseconds(200));
    if (subscription->overflowed()) {
      return ToGrpcStatus(absl::ResourceExhaustedError(
          absl::StrCat("events: this subscriber fell more than its buffer behind and was cut off; subscribe again "
                       "with since_sequence=", after, " to resume")));
    }
    if (event && event->sequence() > after) send(*event);
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "events: the client went away");
}

}  // namespace berth::agent
