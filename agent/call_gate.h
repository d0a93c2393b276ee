// The gate every call passes. An interceptor, created with each call before its handler runs,
// names the caller (a client certificate's URI SAN or CN; on the Unix socket the peer's uid
// from SO_PEERCRED), looks the method up in the authorization table, counts the caller's
// calls in flight, and writes the audit line just before the status goes out. Handlers call
// Admit() first: it returns the interceptor's decision, so no handler works for a caller the
// table refuses. A call whose handler never asked is failed with INTERNAL (fail closed).
#pragma once

#include <sys/socket.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/agent_metrics.h"
#include "agent/audit_log.h"
#include "agent/authz.h"

namespace berth::agent {

// Unix-socket connections the agent accepted itself, by fd (gRPC names such a peer "fd:N").
class UnixPeers {
 public:
  void Add(int fd, const struct ucred& cred);
  void Remove(int fd);
  std::optional<struct ucred> Find(int fd) const;

 private:
  mutable absl::Mutex mu_;
  std::map<int, struct ucred> peers_ ABSL_GUARDED_BY(mu_);
};

class CallGate {
 public:
  CallGate(const Authorizer& authz, const UnixPeers& unix_peers, AuditLog* audit, int max_calls_per_identity);

  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // First thing in every handler: the caller when the method is allowed to them.
  absl::StatusOr<CallerIdentity> Admit(const grpc::ServerContextBase* ctx);
  // What the call is about (a container, image or network), for the audit line.
  void SetTarget(const grpc::ServerContextBase* ctx, std::string target);

  const Authorizer& authz() const { return authz_; }
  // Every finished call is counted there (method, code, latency); set before serving.
  void set_metrics(AgentMetrics* metrics) { metrics_ = metrics; }

 private:
  friend class GateInterceptor;
  struct Call {
    std::string method;
    CallerIdentity caller;
    absl::Status decision;
    bool decided = false;
    bool admitted = false;
    bool finished = false;  // its status went out (and was audited)
    std::string target;
    absl::Time start;
  };
  // The audit line and the request metrics of a finished call.
  void AuditLocked(const Call& call, const grpc::Status& status);

  CallerIdentity Identify(grpc::ServerContextBase* ctx) const;
  // Interceptor side.
  void Begin(grpc::ServerContextBase* ctx, const std::string& method);
  void Decide(grpc::ServerContextBase* ctx);
  // The status to send instead of `status` (a handler that never called Admit), and the audit.
  std::optional<grpc::Status> Finish(const grpc::ServerContextBase* ctx, const grpc::Status& status);
  void End(const grpc::ServerContextBase* ctx);
  bool Refused(grpc::ServerContextBase* ctx);

  const Authorizer& authz_;
  const UnixPeers& unix_peers_;
  AuditLog* audit_;
  AgentMetrics* metrics_ = nullptr;
  const int max_calls_per_identity_;

  absl::Mutex mu_;
  std::map<const grpc::ServerContextBase*, Call> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);  // identity -> calls
};

}  // namespace berth::agent
