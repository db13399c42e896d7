#pragma once
// Hyperion as PID 1 without workers (a container without an init, `-w 0`).
// PID 1 must wait for every orphan the kernel re-parents to it, and the
// single process cannot: reaping children it did not start would take exit
// statuses the app's own Process.wait is waiting for. So the process forks
// once; the child serves, and PID 1 stays behind as a minimal init (what
// `docker run --init` adds): it passes signals on, reaps everything and exits
// with the server's status.
#include <sys/types.h>

namespace hyperion::proc {

// Runs in PID 1 after the fork: forwards TERM, INT, QUIT, HUP, USR1, USR2,
// TTIN, TTOU and WINCH to `server`, reaps every child, and returns once
// `server` has exited: its exit status, or 128 + the signal that killed it.
int superviseAsInit(pid_t server);

// The shell's convention for a wait status: the exit code, or 128 + signal.
int exitCodeOf(int wait_status);

}  // namespace hyperion::proc
