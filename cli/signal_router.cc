#include "cli/signal_router.h"

#include <csignal>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <unistd.h>

#include "cli/terminal.h"

namespace berth::cli {
namespace {

struct Router {
  // Held while a handler runs, so ~ScopedSignalHandler cannot free what the handler uses.
  std::mutex mu;
  std::function<bool(int)> handler;
};

Router& TheRouter() {
  static Router* router = new Router();
  return *router;
}

sigset_t RoutedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&set, s);
  return set;
}

[[noreturn]] void DieOf(int signo) {
  RestoreTerminalForExit();
  // Die of the signal itself so the shell sees the usual status: default action, raise it at
  // this thread (it stays pending while blocked), then unblock it here.
  signal(signo, SIG_DFL);
  raise(signo);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  _exit(128 + signo);
}

void RouteSignals(sigset_t set) {
  for (;;) {
    int signo = 0;
    if (sigwait(&set, &signo) != 0) continue;
    bool handled = false;
    {
      Router& router = TheRouter();
      std::lock_guard<std::mutex> lock(router.mu);
      if (router.handler) handled = router.handler(signo);
    }
    if (handled || signo == SIGWINCH) continue;
    DieOf(signo);
  }
}

}  // namespace

void InstallSignalRouter() {
  const sigset_t set = RoutedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(RouteSignals, set).detach();
}

ScopedSignalHandler::ScopedSignalHandler(std::function<bool(int)> handler) {
  Router& router = TheRouter();
  std::lock_guard<std::mutex> lock(router.mu);
  router.handler = std::move(handler);
}

ScopedSignalHandler::~ScopedSignalHandler() {
  Router& router = TheRouter();
  std::lock_guard<std::mutex> lock(router.mu);
  router.handler = nullptr;
}

}  // namespace berth::cli
