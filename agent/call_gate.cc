#include "agent/call_gate.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/grpc_status.h"
#include "runtime/base/quote.h"

namespace berth::agent {

namespace {

constexpr char kReflection[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// The identity in a client certificate: its first URI SAN (spiffe://... or any URI), else CN.
std::string CertificateIdentity(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return "";
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                   X509_free);
  if (!cert) return "";
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  std::string uri;
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && uri.empty(); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
      uri.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
    }
    GENERAL_NAMES_free(names);
  }
  if (!uri.empty()) return uri;
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn)) > 0) return cn;
  return "";
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return absl::StrCat(static_cast<int>(code));
  }
}

}  // namespace

void UnixPeers::Add(int fd, const struct ucred& cred) {
  absl::MutexLock lock(&mu_);
  peers_[fd] = cred;
}

void UnixPeers::Remove(int fd) {
  absl::MutexLock lock(&mu_);
  peers_.erase(fd);
}

std::optional<struct ucred> UnixPeers::Find(int fd) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

class GateInterceptor final : public grpc::experimental::Interceptor {
 public:
  GateInterceptor(CallGate* gate, grpc::experimental::ServerRpcInfo* info)
      : gate_(gate), ctx_(info->server_context()), method_(info->method()) {
    gate_->Begin(ctx_, method_);
  }
  ~GateInterceptor() override { gate_->End(ctx_); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    // Services gRPC serves itself (reflection) have no handler of ours to refuse a caller:
    // cancel the call instead, before it gets anything.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      gate_->Decide(ctx_);
      if (method_ == kReflection && gate_->Refused(ctx_)) ctx_->TryCancel();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      if (auto replaced = gate_->Finish(ctx_, methods->GetSendStatus())) methods->ModifySendStatus(*replaced);
    }
    methods->Proceed();
  }

 private:
  CallGate* gate_;
  grpc::ServerContextBase* ctx_;
  std::string method_;
};

namespace {

class GateInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GateInterceptorFactory(CallGate* gate) : gate_(gate) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new GateInterceptor(gate_, info);
  }

 private:
  CallGate* gate_;
};

}  // namespace

CallGate::CallGate(const Authorizer& authz, const UnixPeers& unix_peers, AuditLog* audit, int max_calls_per_identity)
    : authz_(authz), unix_peers_(unix_peers), audit_(audit), max_calls_per_identity_(max_calls_per_identity) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> CallGate::InterceptorFactory() {
  return std::make_unique<GateInterceptorFactory>(this);
}

CallerIdentity CallGate::Identify(grpc::ServerContextBase* ctx) const {
  CallerIdentity caller;
  std::string peer = ctx->peer();
  absl::string_view fd_text = peer;
  int fd = -1;
  if (absl::ConsumePrefix(&fd_text, "fd:") && absl::SimpleAtoi(fd_text, &fd)) {
    if (std::optional<struct ucred> cred = unix_peers_.Find(fd)) {
      caller.name = absl::StrCat("uid:", cred->uid);
      caller.role = authz_.RoleOfUid(cred->uid);
      caller.peer = absl::StrCat("unix:uid=", cred->uid, ",pid=", cred->pid);
      return caller;
    }
  }
  caller.peer = peer;
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  if (auth != nullptr) {
    for (const grpc::string_ref& pem : auth->FindPropertyValues("x509_pem_cert")) {
      caller.name = CertificateIdentity(std::string(pem.data(), pem.size()));
      break;
    }
  }
  caller.role = authz_.RoleOfIdentity(caller.name);
  if (caller.name.empty()) caller.name = "(anonymous)";
  return caller;
}

void CallGate::Begin(grpc::ServerContextBase* ctx, const std::string& method) {
  Call call;
  call.method = method;
  call.start = absl::Now();
  absl::MutexLock lock(&mu_);
  calls_[ctx] = std::move(call);
}

// The peer is known once the call's initial metadata has arrived (gRPC names it only then),
// which is still before the handler runs.
void CallGate::Decide(grpc::ServerContextBase* ctx) {
  CallerIdentity caller = Identify(ctx);
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(ctx);
  if (it == calls_.end() || it->second.decided) return;
  Call& call = it->second;
  call.decided = true;
  call.caller = std::move(caller);
  call.decision = authz_.CheckMethod(call.caller, call.method);
  int& n = in_flight_[call.caller.name];
  ++n;
  if (call.decision.ok() && n > max_calls_per_identity_) {
    call.decision = absl::ResourceExhaustedError(absl::StrCat("identity ", Quoted(call.caller.name), " has ", n - 1,
                                                              " calls in flight, the limit of this agent"));
  }
  if (!call.decision.ok()) {
    spdlog::info("call refused method={} identity=\"{}\" peer={} reason=\"{}\"", call.method, call.caller.name,
                 call.caller.peer, std::string(call.decision.message()));
  }
}

bool CallGate::Refused(grpc::ServerContextBase* ctx) {
  Decide(ctx);
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(ctx);
  return it == calls_.end() || !it->second.decision.ok();
}

absl::StatusOr<CallerIdentity> CallGate::Admit(const grpc::ServerContextBase* ctx) {
  Decide(const_cast<grpc::ServerContextBase*>(ctx));  // already done by the interceptor, normally
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(ctx);
  if (it == calls_.end()) return absl::InternalError("the call passed no authorization gate");
  it->second.admitted = true;
  if (!it->second.decision.ok()) return it->second.decision;
  return it->second.caller;
}

void CallGate::SetTarget(const grpc::ServerContextBase* ctx, std::string target) {
  absl::MutexLock lock(&mu_);
  if (auto it = calls_.find(ctx); it != calls_.end()) it->second.target = std::move(target);
}

void CallGate::AuditLocked(const Call& call, const grpc::Status& status) {
  if (metrics_ != nullptr) metrics_->ObserveRequest(call.method, CodeName(status.error_code()), absl::Now() - call.start);
  auto rule = MethodTable().find(call.method);
  bool audited = rule == MethodTable().end() || rule->second.audited || !call.decision.ok();
  if (audit_ == nullptr || !audited) return;
  AuditRecord r;
  r.time_ns = absl::GetCurrentTimeNanos();
  r.identity = call.caller.name;
  r.role = std::string(RoleName(call.caller.role));
  r.peer = call.caller.peer;
  r.method = call.method;
  r.target = call.target;
  r.code = CodeName(status.error_code());
  r.message = status.error_message();
  audit_->Write(r);
}

std::optional<grpc::Status> CallGate::Finish(const grpc::ServerContextBase* ctx, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(ctx);
  if (it == calls_.end()) return std::nullopt;
  Call& call = it->second;
  std::optional<grpc::Status> replaced;
  grpc::Status final_status = status;
  if (!absl::StartsWith(call.method, "/grpc.") && !call.admitted) {
    // A handler that never asked the gate: fail closed, loudly.
    final_status = grpc::Status(grpc::StatusCode::INTERNAL,
                                absl::StrCat(call.method, " did not check authorization; refused"));
    replaced = final_status;
  }
  call.finished = true;
  // Written before the status goes out: the reply never overtakes its audit line.
  AuditLocked(call, final_status);
  return replaced;
}

void CallGate::End(const grpc::ServerContextBase* ctx) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(ctx);
  if (it == calls_.end()) return;
  // A call the client gave up on sends no status of its own.
  if (!it->second.finished) AuditLocked(it->second, grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
  if (it->second.decided) {
    auto flight = in_flight_.find(it->second.caller.name);
    if (flight != in_flight_.end() && --flight->second <= 0) in_flight_.erase(flight);
  }
  calls_.erase(it);
}

}  // namespace berth::agent
