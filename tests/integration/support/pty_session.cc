#include "tests/integration/support/pty_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace berth::testing {

PtySession::PtySession(const std::vector<std::string>& argv) {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) return;
    const char* slave_name = ::ptsname(master_);
    if (slave_name == nullptr) return;
    int slave = ::open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) return;
    struct winsize ws = {};
    ws.ws_row = 24;
    ws.ws_col = 80;
    ::ioctl(slave, TIOCSWINSZ, &ws);
    std::vector<std::string> args = argv;
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls: the test process has threads.
      ::setsid();
      ::ioctl(slave, TIOCSCTTY, 0);
      ::dup2(slave, 0);
      ::dup2(slave, 1);
      ::dup2(slave, 2);
      ::execve(cargv[0], cargv.data(), environ);
      ::_exit(127);
    }
    ::close(slave);
  }

PtySession::~PtySession() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    if (master_ >= 0) ::close(master_);
  }

bool PtySession::ReadUntil(const std::string& text, size_t from, std::chrono::seconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (output_.find(text, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline || !ReadSome(100)) {
        return output_.find(text, from) != std::string::npos;
      }
    }
    return true;
  }

void PtySession::Type(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(master_, text.data() + done, text.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

int PtySession::Finish(std::chrono::seconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        while (ReadSome(0)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ReadSome(50);
    }
    return -1;
  }

bool PtySession::ReadSome(int timeout_ms) {
    struct pollfd p = {master_, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n <= 0) return n == 0;
    char buf[4096];
    ssize_t r = ::read(master_, buf, sizeof(buf));
    if (r <= 0) return r < 0 && errno == EINTR;
    output_.append(buf, static_cast<size_t>(r));
    return true;
  }
}  // namespace berth::testing
