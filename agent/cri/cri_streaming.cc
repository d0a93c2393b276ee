// CriRuntimeService: Exec, Attach and PortForward check the request and answer with a URL of
// the streaming server, where the client's upgraded connection carries the streams.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/cri/cri_labels.h"
#include "agent/cri/cri_runtime_service.h"
#include "agent/grpc_status.h"
#include "runtime/base/quote.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

namespace {

absl::Status CheckStreams(bool tty, bool in, bool out, bool err) {
  if (!in && !out && !err) return absl::InvalidArgumentError("one of stdin, stdout and stderr must be true");
  if (tty && err) {
    return absl::InvalidArgumentError("tty and stderr cannot both be true: a terminal carries one output stream");
  }
  return absl::OkStatus();
}

absl::Status CheckRunning(const v1::Container& c, const char* kind) {
  if (c.state() == v1::RUNNING) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(kind, " ", Quoted(c.id(), 64), " is not running (it is ",
                                                    absl::AsciiStrToLower(v1::ContainerState_Name(c.state())), ")"));
}

}  // namespace

absl::StatusOr<std::string> CriRuntimeService::StreamUrl(streaming::StreamRequest request) {
  if (options_.streaming == nullptr) {
    return absl::UnavailableError("this agent runs without its CRI streaming server; ExecSync still works");
  }
  return options_.streaming->UrlFor(std::move(request));
}

grpc::Status CriRuntimeService::Exec(grpc::ServerContext*, const cri::ExecRequest* req, cri::ExecResponse* resp) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  if (req->cmd().empty()) return ToGrpcStatus(absl::InvalidArgumentError("cmd is required"));
  if (auto st = CheckStreams(req->tty(), req->stdin(), req->stdout(), req->stderr()); !st.ok()) return ToGrpcStatus(st);
  if (auto st = CheckRunning(*c, "container"); !st.ok()) return ToGrpcStatus(st);
  streaming::StreamRequest request;
  request.kind = streaming::StreamRequest::Kind::kExec;
  request.command = {c->id(), {req->cmd().begin(), req->cmd().end()}, false, req->tty(), req->stdin(),
                     req->stdout(), req->stderr()};
  auto url = StreamUrl(std::move(request));
  if (!url.ok()) return ToGrpcStatus(url.status());
  resp->set_url(*url);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::Attach(grpc::ServerContext*, const cri::AttachRequest* req,
                                       cri::AttachResponse* resp) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  if (auto st = CheckStreams(req->tty(), req->stdin(), req->stdout(), req->stderr()); !st.ok()) return ToGrpcStatus(st);
  if (auto st = CheckRunning(*c, "container"); !st.ok()) return ToGrpcStatus(st);
  streaming::StreamRequest request;
  request.kind = streaming::StreamRequest::Kind::kAttach;
  request.command = {c->id(), {}, true, req->tty(), req->stdin(), req->stdout(), req->stderr()};
  auto url = StreamUrl(std::move(request));
  if (!url.ok()) return ToGrpcStatus(url.status());
  resp->set_url(*url);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::PortForward(grpc::ServerContext*, const cri::PortForwardRequest* req,
                                            cri::PortForwardResponse* resp) {
  auto sandbox = FindObject(req->pod_sandbox_id(), kSandboxKind);
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  if (auto st = CheckRunning(*sandbox, "pod sandbox"); !st.ok()) return ToGrpcStatus(st);
  streaming::StreamRequest request;
  request.kind = streaming::StreamRequest::Kind::kPortForward;
  request.sandbox_id = sandbox->id();
  for (int32_t port : req->port()) {
    if (port < 1 || port > 65535) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("port ", port, " is not a TCP port (1-65535)")));
    }
    request.ports.push_back(static_cast<uint16_t>(port));
  }
  auto url = StreamUrl(std::move(request));
  if (!url.ok()) return ToGrpcStatus(url.status());
  resp->set_url(*url);
  return grpc::Status::OK;
}

}  // namespace berth::agent::cri
