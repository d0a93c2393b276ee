#include "agent/health_service.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/grpc_status.h"
#include "runtime/base/quote.h"

namespace berth::agent {

namespace {

using grpc::health::v1::HealthCheckResponse;

// "" is the whole server; the named services are the ones it serves.
bool Known(const std::string& service) {
  return service.empty() || service == "berth.v1.Containers" || service == "berth.v1.System" ||
         service == "berth.v1.Images" || service == "berth.v1.Networks" || service == "grpc.health.v1.Health";
}

}  // namespace

grpc::Status HealthService::Check(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                                  HealthCheckResponse* resp) {
  if (auto caller = gate_.Admit(ctx); !caller.ok()) return ToGrpcStatus(caller.status());
  if (!Known(req->service())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no service ", Quoted(req->service())));
  }
  resp->set_status(stopping_ ? HealthCheckResponse::NOT_SERVING : HealthCheckResponse::SERVING);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  if (auto caller = gate_.Admit(ctx); !caller.ok()) return ToGrpcStatus(caller.status());
  HealthCheckResponse resp;
  resp.set_status(Known(req->service()) ? HealthCheckResponse::SERVING : HealthCheckResponse::SERVICE_UNKNOWN);
  if (!writer->Write(resp)) return grpc::Status::OK;
  while (!ctx->IsCancelled() && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (stopping_) {
    resp.set_status(HealthCheckResponse::NOT_SERVING);
    writer->Write(resp);
  }
  return grpc::Status::OK;
}

}  // namespace berth::agent
