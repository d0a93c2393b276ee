// Where events are published and subscribed to. Publish writes the event to the journal and
// hands it to every live subscription; it never waits for a subscriber. A subscription holds
// a bounded queue: one that falls behind by more than that is marked overflowed (and its
// stream ends with RESOURCE_EXHAUSTED), and one stuck that way for too long is cancelled.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "agent/event_journal.h"
#include "berth/v1/containers.pb.h"
#include "berth/v1/events.pb.h"

namespace berth::agent {

class EventSubscription {
 public:
  // Events published after the subscription began have sequence numbers above this.
  uint64_t live_after() const { return live_after_; }
  // The next live event; nullopt after `timeout` without one, or once overflowed.
  std::optional<v1::Event> Next(absl::Duration timeout);
  bool overflowed();

 private:
  friend class EventHub;
  EventSubscription(uint64_t live_after, size_t capacity, std::function<void()> cancel)
      : live_after_(live_after), capacity_(capacity), cancel_(std::move(cancel)) {}

  const uint64_t live_after_;
  const size_t capacity_;
  const std::function<void()> cancel_;  // ends a stream whose writer is stuck
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<v1::Event> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> overflowed_at_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

class EventHub {
 public:
  // `subscriber_queue`: events a subscriber may fall behind by; `stuck_grace`: how long an
  // overflowed subscriber's stream may stay blocked before it is cancelled.
  explicit EventHub(EventJournal& journal, size_t subscriber_queue = 4096,
                    absl::Duration stuck_grace = absl::Seconds(30));
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Stamps the time, journals the event (which numbers it) and queues it for subscribers.
  // A journal failure is logged: the agent's work does not stop for its event log.
  void Publish(v1::Event event);

  // A new subscription; `cancel` is called (once) if its stream stays stuck while overflowed.
  std::shared_ptr<EventSubscription> Subscribe(std::function<void()> cancel);
  void Unsubscribe(const std::shared_ptr<EventSubscription>& subscription);

  EventJournal& journal() { return journal_; }

 private:
  void RunHousekeeping();

  EventJournal& journal_;
  const size_t subscriber_queue_;
  const absl::Duration stuck_grace_;
  std::mutex mu_;  // orders Append with the hand-out, so subscribers see sequence order
  std::list<std::shared_ptr<EventSubscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread housekeeping_;  // syncs the journal every second, cancels stuck subscribers
};

// An event about a container: its id, name, labels and image.
v1::Event ContainerEvent(const v1::Container& container, const std::string& action);

}  // namespace berth::agent
