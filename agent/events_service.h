// berth.v1.Events over gRPC: the journal's history after `since`, then live events, each
// through the subscriber's filter.
#pragma once

#include "agent/call_gate.h"
#include "agent/event_hub.h"
#include "berth/v1/events.grpc.pb.h"

namespace berth::agent {

class EventsService final : public v1::Events::Service {
 public:
  EventsService(EventHub& hub, CallGate& gate) : hub_(hub), gate_(gate) {}

  grpc::Status Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                         grpc::ServerWriter<v1::Event>* writer) override;

 private:
  EventHub& hub_;
  CallGate& gate_;
};

}  // namespace berth::agent
