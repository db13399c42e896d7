#pragma once
// A worker's pub/sub (docs/WEBSOCKET.md, "Pub/sub"): where Hyperion.publish
// goes and where messages from elsewhere come in. Every published message
// ends up as a Publish message in a worker's loop mailbox; the loop writes
// one shared frame to each subscriber of the channel.
//
// Reach:
// - this server's workers: each worker has a Unix datagram socket with an
//   abstract name derived from the master's pid and its index; a publish is
//   delivered locally and sent to every other worker's socket (the "bus");
// - with --ws-pubsub redis://...: a publish goes to Redis only, and every
//   worker of every server subscribed there (PSUBSCRIBE) delivers it,
//   this one included. Redis pub/sub is at-most-once: what is published
//   while a subscriber is reconnecting is not delivered to it.
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "hyperion/net/unique_fd.hpp"
#include "hyperion/websocket/publisher.hpp"
#include "hyperion/websocket/pubsub_message.hpp"

struct redisContext;

namespace hyperion::server {
class LoopMailbox;
}

namespace hyperion::websocket {

class PubSub final : public Publisher {
 public:
  struct Options {
    int worker_index = 0;
    int workers = 0;     // 0: a single process, no bus
    pid_t group = 0;     // the master's pid: names the bus sockets
    std::string redis;   // --ws-pubsub, empty for none
  };
  PubSub(Options options, std::shared_ptr<server::LoopMailbox> local);
  ~PubSub() override;
  PubSub(const PubSub&) = delete;
  PubSub& operator=(const PubSub&) = delete;

  // Binds this worker's bus socket and starts the receiving threads (one for
  // the bus, one for the Redis subscription). After fork, in the worker.
  void start();
  void stop();

  bool publish(std::string_view channel, std::string_view payload, bool binary) override;

  // The most payload one bus datagram carries: a larger message travels in
  // pieces, reassembled per sender.
  static constexpr std::size_t kBusPiece = 32 * 1024;

 private:
  void deliverLocally(std::string channel, std::string payload, bool binary);
  bool sendOnBus(std::string_view channel, std::string_view payload, bool binary);
  void busLoop();
  bool bindWhenFree();  // the predecessor's name, once it is gone; false on stop
  bool publishToRedis(std::string_view channel, std::string_view payload, bool binary);
  void redisLoop();

  Options options_;
  std::shared_ptr<server::LoopMailbox> local_;
  std::optional<RedisUrl> redis_url_;
  net::UniqueFd bus_;       // ours, bound; read by bus_thread_
  net::UniqueFd bus_send_;  // unbound, for sendto every other worker
  net::UniqueFd stop_;      // eventfd: wakes the threads to stop
  std::atomic<std::uint32_t> next_id_{1};
  std::thread bus_thread_, redis_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex redis_mutex_;          // guards pub_ (publishers are Ruby threads)
  redisContext* pub_ = nullptr;
  std::atomic<int> sub_fd_{-1};     // the subscriber's socket, shut down to stop it
};

}  // namespace hyperion::websocket
