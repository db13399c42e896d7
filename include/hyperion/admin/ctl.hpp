#pragma once
// `hyperion ctl COMMAND`: what a deploy script runs against a live server's
// admin listener. It does not boot Ruby. With --wait it blocks until the
// thing asked for is done, and exits non-zero with the reason when it
// failed, so a script can trust its exit status.
//
//   hyperion ctl phased-restart --wait   0 once every worker is replaced, 1 with why not
//   hyperion ctl stop --wait             0 once the server has exited
//   hyperion ctl stats                   the JSON of GET /-/stats
//   hyperion ctl ready                   0 when /-/ready is 200
#include <string>

namespace hyperion::admin {

// argv[0] is "ctl". Returns the exit status.
int runCtl(int argc, const char* const* argv);

// The text of `hyperion ctl --help`.
std::string ctlUsage();

}  // namespace hyperion::admin
