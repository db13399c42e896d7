#pragma once
// What the process layer needs from the embedded Ruby VM, without seeing
// ruby.h. Implemented by rb::RubyHost; the master and worker code only know
// this interface, so process supervision stays plain C++.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "hyperion/util/result.hpp"

namespace hyperion::server {
class DispatchQueue;
}  // namespace hyperion::server

namespace hyperion::metrics {
struct WorkerStats;
}
namespace hyperion::static_files {
class RouteTable;
}
namespace hyperion::websocket {
class Publisher;
}

namespace hyperion::proc {

enum class Hook { BeforeFork, OnWorkerBoot, OnWorkerShutdown };

class AppHost {
 public:
  virtual ~AppHost() = default;
  // Loads the rackup. The error text names file and line.
  virtual Result<bool> loadApp() = 0;
  virtual bool appLoaded() const = 0;
  // Routes registered from Ruby (Hyperion::Server.handle_static / handle).
  virtual const static_files::RouteTable& routes() const = 0;
  // Static directories the app implies (a Rails app's public/).
  virtual std::vector<std::string> detectedStaticDirs() const = 0;
  // Runs the config file's blocks for hook; failures are logged, not fatal.
  virtual void runHook(Hook hook, int worker_index) = 0;
  // fork() through Ruby (Process.fork) so the VM is fork-safe: 0 in the child.
  virtual pid_t forkProcess() = 0;
  // Runs fn with the GVL released (fn must not touch Ruby).
  virtual void withoutGvl(const std::function<void()>& fn) = 0;
  // Starts `count` Ruby threads serving requests from queue (which outlives
  // them: runWorker ends the process without returning). The Ruby side never
  // sees the loop itself; each request's Exchange says all it needs. They
  // count their queue and GVL waits into `stats` (which outlives them too).
  virtual void startRubyThreads(int count, server::DispatchQueue& queue, metrics::WorkerStats& stats) = 0;
  // Where Hyperion.publish hands messages (the worker's pub/sub, which
  // outlives the Ruby threads); until set, publish returns false.
  virtual void setPublisher(websocket::Publisher* publisher) = 0;
  // Joins them (the queue must be closed first); kills any still busy after grace.
  virtual void stopRubyThreads(std::chrono::milliseconds grace) = 0;
  // Runs at_exit handlers and finalizers, then ends the process.
  [[noreturn]] virtual void exitProcess(int status) = 0;
};

}  // namespace hyperion::proc
