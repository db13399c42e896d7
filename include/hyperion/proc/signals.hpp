#pragma once
// Signals become bytes on a self-pipe, read by the master's or worker's main
// loop. The handler is the only code that runs in signal context; it writes
// one byte and nothing else. The write end is the one process-wide variable
// outside the Runtime, because a signal handler cannot be given context.
#include <signal.h>

#include <vector>

#include "hyperion/net/unique_fd.hpp"

namespace hyperion::proc {

class SignalPipe {
 public:
  // Installs handlers for signals (replacing Ruby's, which are kept) and
  // ignores SIGPIPE.
  explicit SignalPipe(const std::vector<int>& signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int readFd() const { return read_.get(); }
  // Signals received since the last call, in arrival order.
  std::vector<int> drain();
  // In a forked child, before it installs its own pipe: close the parent's
  // copy and give the signals back the handlers they had before (Ruby's). A
  // worker that kept the master's SIGCHLD handler would swallow the signal
  // Ruby 3.1's Process.wait (and so Kernel#system) waits for, and hang.
  void abandon();

 private:
  void restorePrevious();

  std::vector<int> signals_;
  std::vector<struct sigaction> previous_;  // one per signals_ entry
  net::UniqueFd read_;
  net::UniqueFd write_;
};

// Blocks every signal in the calling thread (for non-Ruby threads).
void blockAllSignals();
const char* signalName(int signal);

}  // namespace hyperion::proc
