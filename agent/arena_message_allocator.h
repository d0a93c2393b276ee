// Request and response of a callback unary method made on one protobuf arena per call.
// A response with many records (List of a thousand containers) is then built by bump
// allocation and freed as one block, instead of one malloc and free per string and message:
// that was two thirds of List's time in berthd (see docs/performance.md).
#pragma once

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

namespace berth::agent {

template <typename Request, typename Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder; }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions options;
      options.start_block_size = 4096;
      options.max_block_size = 64 * 1024;  // a listing of 1000 summaries is about 250 kB
      return options;
    }
    google::protobuf::Arena arena_;
  };
};

}  // namespace berth::agent
