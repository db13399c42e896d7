#include "hyperion/proc/pid1.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hyperion::proc {
namespace {

// The wait status of a real child that ran `body`.
template <typename Body>
int statusOfChild(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(Pid1, ExitCodeIsTheChildsExitStatus) {
  EXPECT_EQ(0, exitCodeOf(statusOfChild([] {})));
  EXPECT_EQ(3, exitCodeOf(statusOfChild([] { ::_exit(3); })));
}

TEST(Pid1, ExitCodeOfAKilledChildIs128PlusTheSignal) {
  EXPECT_EQ(128 + SIGKILL, exitCodeOf(statusOfChild([] { ::raise(SIGKILL); })));
  EXPECT_EQ(128 + SIGTERM, exitCodeOf(statusOfChild([] {
              ::signal(SIGTERM, SIG_DFL);
              ::raise(SIGTERM);
            })));
}

// The init half: a signal sent to it reaches the server, and it returns the
// server's status once the server has gone.
TEST(Pid1, SupervisorForwardsSignalsAndReturnsTheServersStatus) {
  // TERM is blocked in the supervisor until its signal pipe unblocks it, so
  // one sent early stays pending instead of killing it: no sleep, no race.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  int ready[2];
  ASSERT_EQ(0, ::pipe(ready));
  const pid_t supervisor = ::fork();
  if (supervisor == 0) {
    ::sigprocmask(SIG_BLOCK, &term, nullptr);
    const pid_t server = ::fork();
    if (server == 0) {
      ::signal(SIGTERM, SIG_DFL);
      ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
      for (;;) ::pause();  // killed by the forwarded TERM
    }
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(ready[1], &byte, 1);
    ::_exit(superviseAsInit(server));
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(1, ::read(ready[0], &byte, 1));
  ::close(ready[0]);
  ::kill(supervisor, SIGTERM);
  int status = 0;
  ASSERT_EQ(supervisor, ::waitpid(supervisor, &status, 0));
  ASSERT_TRUE(WIFEXITED(status)) << "the supervisor itself was killed: " << status;
  EXPECT_EQ(128 + SIGTERM, WEXITSTATUS(status));
}

}  // namespace
}  // namespace hyperion::proc
