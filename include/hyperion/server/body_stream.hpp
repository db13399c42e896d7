#pragma once
// A request body handed to the app while it still arrives (HTTP/2 gRPC
// calls: a bidirectional client waits for each reply before it sends the
// next message, so the app must run before the body has ended). The loop
// pushes bytes as DATA frames come; a Ruby thread takes them, with the GVL
// released while it waits. The loop reopens the stream's flow-control
// window only for bytes the app has taken, so what waits here is bounded by
// the window the server advertised, however slowly the app reads.
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

namespace hyperion::server {

class BodyStream {
 public:
  enum class Status { Data, End, Failed, Interrupted };

  // --- loop thread ---
  void push(std::string_view bytes);
  void end();   // the client sent the whole body
  void fail();  // the stream was reset or the connection is gone

  // --- Ruby thread (without the GVL) ---
  // Waits until at least one byte is here (or the body ended, failed, or
  // interrupt() was called), then moves up to `max` bytes onto `out`.
  // Data: bytes were taken (max 0: some are waiting); End / Failed: nothing
  // more will come. `fresh` is how many of them were never taken before
  // (bytes put back with unread() come again but were counted already).
  Status take(std::string& out, std::size_t max, std::size_t& fresh);
  // Puts bytes taken but not used (a line reader's rest) back in front.
  void unread(std::string_view bytes);
  // Wakes a waiting take() (thread interrupt, forced shutdown).
  void interrupt();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string buffer_;
  std::size_t offset_ = 0;
  std::size_t returned_ = 0;  // bytes at the front that were taken once and put back
  bool ended_ = false;
  bool failed_ = false;
  bool interrupted_ = false;
};

}  // namespace hyperion::server
