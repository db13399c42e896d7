#include "hyperion/proc/pid1.hpp"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cerrno>
#include <vector>

#include "hyperion/proc/signals.hpp"

namespace hyperion::proc {

int exitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

int superviseAsInit(pid_t server) {
  const std::vector<int> forwarded{SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH};
  std::vector<int> handled = forwarded;
  handled.push_back(SIGCHLD);
  SignalPipe signals(handled);
  spdlog::info("PID 1 without workers: pid {} serves; this process passes signals on and reaps orphans", server);
  for (;;) {
    // Reap first: the server may have exited before the pipe existed.
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == server) return exitCodeOf(status);
    }
    pollfd pfd{signals.readFd(), POLLIN, 0};
    if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return 1;
    for (int signal : signals.drain()) {
      if (signal == SIGCHLD) continue;
      ::kill(server, signal);
    }
  }
}

}  // namespace hyperion::proc
