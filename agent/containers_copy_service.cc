// Containers.CopyTo and CopyFrom: `berth cp` over gRPC. An upload is spooled to the agent's
// scratch dir first, so a slow client never holds a container's lock, and a broken upload
// changes nothing in the container.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/containers_service.h"
#include "agent/grpc_status.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {
namespace {

constexpr size_t kSendChunk = 256 * 1024;

// A spool file, deleted with its owner.
class SpoolFile {
 public:
  absl::Status Create(const std::string& dir) {
    static std::atomic<uint64_t> serial{0};
    path_ = absl::StrCat(dir, "/copy-", ::getpid(), "-", serial.fetch_add(1), ".tar");
    fd_.Reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd_) return ErrnoToStatus(absl::StrCat("create ", path_));
    return absl::OkStatus();
  }
  absl::Status Append(const std::string& data) {
    for (size_t done = 0; done < data.size();) {
      ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoToStatus(absl::StrCat("write ", path_));
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }
  const std::string& path() const { return path_; }
  ~SpoolFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

 private:
  std::string path_;
  UniqueFd fd_;
};

}  // namespace

grpc::Status ContainersService::CopyTo(grpc::ServerContext* ctx, grpc::ServerReader<v1::CopyToRequest>* reader,
                                       v1::CopyToResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::CopyToRequest first;
  if (!reader->Read(&first)) return ToGrpcStatus(absl::InvalidArgumentError("CopyTo: no request"));
  gate_.SetTarget(ctx, first.id());
  if (first.id().empty() || first.path().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("CopyTo: the first message names the container (id) and the path"));
  }
  // Unknown containers are refused before the upload, not after it.
  if (auto c = manager_.Inspect(first.id()); !c.ok()) return ToGrpcStatus(c.status());
  SpoolFile spool;
  if (absl::Status st = spool.Create(manager_.scratch_dir()); !st.ok()) return ToGrpcStatus(st);
  if (absl::Status st = spool.Append(first.data()); !st.ok()) return ToGrpcStatus(st);
  v1::CopyToRequest next;
  while (reader->Read(&next)) {
    if (absl::Status st = spool.Append(next.data()); !st.ok()) return ToGrpcStatus(st);
  }
  if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  auto entries = manager_.CopyTo(first.id(), first.path(), spool.path(), first.keep_owner());
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  resp->set_entries(*entries);
  return grpc::Status::OK;
}

grpc::Status ContainersService::CopyFrom(grpc::ServerContext* ctx, const v1::CopyFromRequest* req,
                                         grpc::ServerWriter<v1::CopyFromResponse>* writer) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  std::string pending;
  auto flush = [&]() -> absl::Status {
    v1::CopyFromResponse resp;
    resp.set_data(std::move(pending));
    pending.clear();
    if (!writer->Write(resp)) return absl::CancelledError("the client went away");
    return absl::OkStatus();
  };
  absl::Status st = manager_.CopyFrom(
      req->id(), req->path(),
      [&](const v1::PathStat& stat) -> absl::Status {
        v1::CopyFromResponse resp;
        *resp.mutable_stat() = stat;
        if (!writer->Write(resp)) return absl::CancelledError("the client went away");
        return absl::OkStatus();
      },
      [&](absl::string_view data) -> absl::Status {
        pending.append(data.data(), data.size());
        return pending.size() >= kSendChunk ? flush() : absl::OkStatus();
      });
  if (st.ok() && !pending.empty()) st = flush();
  return ToGrpcStatus(st);
}

}  // namespace berth::agent
