#include "agent/event_hub.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace berth::agent {

using google::protobuf::util::TimeUtil;

std::optional<v1::Event> EventSubscription::Next(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  ready_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                  [&] { return !queue_.empty() || overflowed_at_.has_value(); });
  if (overflowed_at_ || queue_.empty()) return std::nullopt;
  v1::Event event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

bool EventSubscription::overflowed() {
  std::lock_guard<std::mutex> lock(mu_);
  return overflowed_at_.has_value();
}

EventHub::EventHub(EventJournal& journal, size_t subscriber_queue, absl::Duration stuck_grace)
    : journal_(journal), subscriber_queue_(subscriber_queue), stuck_grace_(stuck_grace) {
  housekeeping_ = std::thread([this] { RunHousekeeping(); });
}

EventHub::~EventHub() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  housekeeping_.join();
  (void)journal_.Sync();
}

void EventHub::Publish(v1::Event event) {
  std::lock_guard<std::mutex> lock(mu_);
  // Stamped in sequence order, so times never go back along the journal.
  *event.mutable_time() = TimeUtil::NanosecondsToTimestamp(absl::GetCurrentTimeNanos());
  if (absl::Status st = journal_.Append(event); !st.ok()) {
    spdlog::error("event journal: {} event={} id={} not recorded", std::string(st.message()), event.type(), event.id());
    return;
  }
  for (const auto& sub : subscriptions_) {
    std::lock_guard<std::mutex> sl(sub->mu_);
    if (sub->overflowed_at_) continue;
    if (sub->queue_.size() >= sub->capacity_) {
      sub->overflowed_at_ = absl::Now();
      sub->queue_.clear();
    } else {
      sub->queue_.push_back(event);
    }
    sub->ready_.notify_one();
  }
}

std::shared_ptr<EventSubscription> EventHub::Subscribe(std::function<void()> cancel) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<EventSubscription> sub(
      new EventSubscription(journal_.last_sequence(), subscriber_queue_, std::move(cancel)));
  subscriptions_.push_back(sub);
  return sub;
}

void EventHub::Unsubscribe(const std::shared_ptr<EventSubscription>& subscription) {
  std::lock_guard<std::mutex> lock(mu_);
  subscriptions_.remove(subscription);
}

void EventHub::RunHousekeeping() {
  std::unique_lock<std::mutex> stop_lock(stop_mu_);
  while (!stop_cv_.wait_for(stop_lock, std::chrono::seconds(1), [&] { return stopping_; })) {
    if (absl::Status st = journal_.Sync(); !st.ok()) spdlog::warn("event journal: {}", std::string(st.message()));
    std::vector<std::shared_ptr<EventSubscription>> stuck;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& sub : subscriptions_) {
        std::lock_guard<std::mutex> sl(sub->mu_);
        if (sub->overflowed_at_ && !sub->cancelled_ && absl::Now() - *sub->overflowed_at_ > stuck_grace_) {
          sub->cancelled_ = true;
          stuck.push_back(sub);
        }
      }
    }
    for (const auto& sub : stuck) {
      spdlog::warn("events: cancelling a subscriber that stopped reading");
      if (sub->cancel_) sub->cancel_();
    }
  }
}

v1::Event ContainerEvent(const v1::Container& container, const std::string& action) {
  v1::Event event;
  event.set_type(absl::StrCat("container.", action));
  event.set_id(container.id());
  event.set_name(container.name());
  *event.mutable_labels() = container.labels();
  (*event.mutable_attributes())["image"] = container.image();
  return event;
}

}  // namespace berth::agent
