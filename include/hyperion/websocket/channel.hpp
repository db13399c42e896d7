#pragma once
// The events of one WebSocket connection on their way from the event loop
// to the Ruby handler (on_open, on_message, on_drained, on_shutdown,
// on_close). The loop pushes; one Ruby thread at a time runs them, in order:
// the connection is "scheduled" on the dispatch queue while it has events,
// so no thread waits for a connection and no two run its callbacks at once.
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace hyperion::websocket {

struct Event {
  enum class Kind { Open, Message, Drained, Shutdown, Close };
  Kind kind = Kind::Message;
  bool binary = false;  // Message: a binary message (else UTF-8 text)
  std::string data;
  std::uint16_t code = 0;  // Close: the code the connection ended with
};

class Channel {
 public:
  // --- loop thread --- Returns true when the connection must be put on the
  // dispatch queue (no Ruby thread has it scheduled already).
  bool push(Event event);

  // --- Ruby thread --- The next event, or false: the connection is no
  // longer scheduled (the next push schedules it again). `resume` turns true
  // when the loop stopped reading for this connection (hold()) and the
  // backlog has now shrunk enough: tell the loop to read again.
  bool next(Event& event, bool& resume);

  // --- loop thread --- Message bytes handed over and not yet taken by Ruby:
  // past kHoldAt the session stops reading the client (a fast sender cannot
  // queue without bound behind a slow handler) and calls hold().
  std::size_t backlog() const {
    std::lock_guard lock(mutex_);
    return backlog_;
  }
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  static constexpr std::size_t kHoldAt = 1u << 20;

  // --- Ruby thread --- client.write is about to return false: on_drained
  // must follow once everything queued has left. Set before the message is
  // posted, so the loop sees it by the time that message's bytes are out.
  void wantDrain() { drain_wanted_.store(true, std::memory_order_release); }
  // --- loop thread --- Whether on_drained is owed (and no longer is).
  bool takeDrainWanted() { return drain_wanted_.exchange(false, std::memory_order_acq_rel); }

  // Whether the socket is still open for writes (client.open?).
  bool open() const { return open_.load(std::memory_order_acquire); }
  void setClosed() { open_.store(false, std::memory_order_release); }

 private:
  mutable std::mutex mutex_;
  std::deque<Event> events_;
  std::size_t backlog_ = 0;
  bool held_ = false;
  bool scheduled_ = false;
  std::atomic<bool> open_{true};
  std::atomic<bool> drain_wanted_{false};
};

}  // namespace hyperion::websocket
