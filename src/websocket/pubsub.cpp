#include "hyperion/websocket/pubsub.hpp"

#include <hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "hyperion/log/logger.hpp"
#include "hyperion/server/loop_mailbox.hpp"

namespace hyperion::websocket {
namespace {

// The bus datagram header (host byte order: both ends are this machine).
struct BusHeader {
  std::uint8_t version;
  std::uint8_t binary;
  std::uint16_t channel_length;
  std::uint32_t sender;  // pid
  std::uint32_t id;      // per sender
  std::uint32_t total;   // payload bytes in the whole message
  std::uint32_t offset;  // of this piece
};
constexpr std::uint8_t kBusVersion = 1;

socklen_t busAddress(pid_t group, int index, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  // Abstract namespace (leading NUL): no file to clean up, gone with the socket.
  const int n = std::snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "hyperion-ws-%d-%d",
                              static_cast<int>(group), index);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<std::size_t>(n));
}

}  // namespace

PubSub::PubSub(Options options, std::shared_ptr<server::LoopMailbox> local)
    : options_(std::move(options)), local_(std::move(local)) {
  if (!options_.redis.empty()) {
    redis_url_ = parseRedisUrl(options_.redis);
    if (!redis_url_) throw std::runtime_error("--ws-pubsub " + options_.redis + " is not redis://HOST[:PORT][/DB]");
  }
}

PubSub::~PubSub() {
  stop();
  if (pub_) redisFree(pub_);
}

void PubSub::start() {
  stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (options_.workers > 1 && !redis_url_) {
    bus_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    bus_send_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr;
    const socklen_t len = busAddress(options_.group, options_.worker_index, addr);
    const int bound = bus_ && bus_send_ ? ::bind(bus_.get(), reinterpret_cast<sockaddr*>(&addr), len) : -1;
    // A phased restart boots this worker while its predecessor of the same
    // index still drains and holds the name: the bus thread takes it over
    // once the predecessor exits (until then the predecessor gets the index's
    // publishes, for the subscribers it still has).
    const bool predecessor = bound != 0 && errno == EADDRINUSE;
    if (bound != 0 && !predecessor) {
      spdlog::error("websocket pub/sub: worker {} cannot bind its bus socket: {}; publishes reach this worker only",
                    options_.worker_index, std::strerror(errno));
      bus_.reset();
      bus_send_.reset();
    } else {
      // A worker that does not read for a second is skipped, not waited on.
      timeval timeout{1, 0};
      ::setsockopt(bus_send_.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      int size = 4 << 20;
      ::setsockopt(bus_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      bus_thread_ = std::thread([this, predecessor] {
        if (!predecessor || bindWhenFree()) busLoop();
      });
    }
  }
  if (redis_url_) redis_thread_ = std::thread([this] { redisLoop(); });
}

void PubSub::stop() {
  if (stopping_.exchange(true)) return;
  if (stop_) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
  }
  if (int fd = sub_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  if (bus_thread_.joinable()) bus_thread_.join();
  if (redis_thread_.joinable()) redis_thread_.join();
}

void PubSub::deliverLocally(std::string channel, std::string payload, bool binary) {
  server::LoopMessage message{server::LoopMessage::Kind::Publish, nullptr, std::move(payload), !binary};
  message.path = std::move(channel);
  local_->post(std::move(message));
}

bool PubSub::publish(std::string_view channel, std::string_view payload, bool binary) {
  if (redis_url_) {
    if (publishToRedis(channel, payload, binary)) return true;
    // Redis is unreachable: this server's subscribers still get it.
    deliverLocally(std::string(channel), std::string(payload), binary);
    return false;
  }
  deliverLocally(std::string(channel), std::string(payload), binary);
  return bus_send_ ? sendOnBus(channel, payload, binary) : true;
}

bool PubSub::sendOnBus(std::string_view channel, std::string_view payload, bool binary) {
  BusHeader header{kBusVersion, static_cast<std::uint8_t>(binary), static_cast<std::uint16_t>(channel.size()),
                   static_cast<std::uint32_t>(::getpid()), next_id_.fetch_add(1),
                   static_cast<std::uint32_t>(payload.size()), 0};
  if (channel.size() > 0xFFFF || payload.size() > 0xFFFFFFFFu) return false;
  bool all = true;
  for (int peer = 0; peer < options_.workers; ++peer) {
    if (peer == options_.worker_index) continue;
    sockaddr_un addr;
    const socklen_t len = busAddress(options_.group, peer, addr);
    std::size_t offset = 0;
    do {
      const std::size_t piece = std::min(kBusPiece, payload.size() - offset);
      header.offset = static_cast<std::uint32_t>(offset);
      iovec iov[3] = {{&header, sizeof header},
                      {const_cast<char*>(channel.data()), channel.size()},
                      {const_cast<char*>(payload.data() + offset), piece}};
      msghdr msg{};
      msg.msg_name = &addr;
      msg.msg_namelen = len;
      msg.msg_iov = iov;
      msg.msg_iovlen = 3;
      if (::sendmsg(bus_send_.get(), &msg, MSG_NOSIGNAL) < 0) {
        if (errno == EINTR) continue;
        // ECONNREFUSED: that worker is being replaced (its socket is gone).
        if (errno != ECONNREFUSED) {
          spdlog::warn("websocket pub/sub: worker {} missed a message on {}: {}", peer, channel,
                       std::strerror(errno));
          all = false;
        }
        break;
      }
      offset += piece;
    } while (offset < payload.size());
  }
  return all;
}

bool PubSub::bindWhenFree() {
  sockaddr_un addr;
  const socklen_t len = busAddress(options_.group, options_.worker_index, addr);
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    pollfd stop{stop_.get(), POLLIN, 0};
    if (::poll(&stop, 1, 100) > 0) return false;
    if (::bind(bus_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      spdlog::debug("websocket pub/sub: worker {} took its bus socket over after {:.1f} s", options_.worker_index,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      return true;
    }
    if (errno != EADDRINUSE) {
      spdlog::error("websocket pub/sub: worker {} cannot bind its bus socket: {}; publishes reach this worker only",
                    options_.worker_index, std::strerror(errno));
      return false;
    }
  }
}

void PubSub::busLoop() {
  struct Partial {
    std::uint32_t id = 0;
    bool binary = false;
    std::string channel, payload;
  };
  std::unordered_map<std::uint32_t, Partial> partial;  // by sender pid
  std::string buffer(sizeof(BusHeader) + 0xFFFF + kBusPiece, '\0');
  for (;;) {
    pollfd fds[2] = {{bus_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const ssize_t n = ::recv(bus_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < static_cast<ssize_t>(sizeof(BusHeader))) continue;
    BusHeader header;
    std::memcpy(&header, buffer.data(), sizeof header);
    const std::size_t body = static_cast<std::size_t>(n) - sizeof header;
    if (header.version != kBusVersion || header.channel_length > body) continue;
    const char* channel = buffer.data() + sizeof header;
    const char* piece = channel + header.channel_length;
    const std::size_t piece_length = body - header.channel_length;
    if (header.offset == 0 && piece_length == header.total) {  // the common case: one datagram
      deliverLocally(std::string(channel, header.channel_length), std::string(piece, piece_length), header.binary);
      continue;
    }
    Partial& p = partial[header.sender];
    if (header.offset == 0) {
      p.id = header.id;
      p.binary = header.binary;
      p.channel.assign(channel, header.channel_length);
      p.payload.clear();
      p.payload.reserve(header.total);
    } else if (p.id != header.id || p.payload.size() != header.offset) {
      continue;  // a piece of a message whose start we missed
    }
    p.payload.append(piece, piece_length);
    if (p.payload.size() == header.total) {
      deliverLocally(std::move(p.channel), std::move(p.payload), p.binary);
      partial.erase(header.sender);
    }
  }
}

namespace {

redisContext* connectRedis(const RedisUrl& url, std::string& error) {
  timeval timeout{2, 0};
  redisContext* ctx = redisConnectWithTimeout(url.host.c_str(), url.port, timeout);
  if (!ctx || ctx->err) {
    error = ctx ? ctx->errstr : "out of memory";
    if (ctx) redisFree(ctx);
    return nullptr;
  }
  if (!url.password.empty()) {
    auto* reply = static_cast<redisReply*>(redisCommand(ctx, "AUTH %s", url.password.c_str()));
    const bool ok = reply && reply->type != REDIS_REPLY_ERROR;
    error = reply && reply->type == REDIS_REPLY_ERROR ? reply->str : (ok ? "" : ctx->errstr);
    if (reply) freeReplyObject(reply);
    if (!ok) {
      redisFree(ctx);
      return nullptr;
    }
  }
  return ctx;
}

}  // namespace

bool PubSub::publishToRedis(std::string_view channel, std::string_view payload, bool binary) {
  const std::string key = std::string(kRedisChannelPrefix) + std::string(channel);
  const std::string message = encodeRedisMessage(payload, binary);
  std::lock_guard lock(redis_mutex_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!pub_) {
      std::string error;
      pub_ = connectRedis(*redis_url_, error);
      if (!pub_) {
        spdlog::error("websocket pub/sub: cannot reach Redis at {}:{} to publish: {}", redis_url_->host,
                      redis_url_->port, error);
        return false;
      }
    }
    auto* reply = static_cast<redisReply*>(
        redisCommand(pub_, "PUBLISH %b %b", key.data(), key.size(), message.data(), message.size()));
    if (reply) {
      const bool ok = reply->type != REDIS_REPLY_ERROR;
      if (!ok) spdlog::error("websocket pub/sub: Redis refused PUBLISH: {}", reply->str);
      freeReplyObject(reply);
      return ok;
    }
    redisFree(pub_);  // the connection broke: one fresh try
    pub_ = nullptr;
  }
  return false;
}

void PubSub::redisLoop() {
  using namespace std::chrono_literals;
  auto backoff = 100ms;
  bool was_connected = false;
  while (!stopping_) {
    std::string error;
    redisContext* ctx = connectRedis(*redis_url_, error);
    if (ctx) {
      const std::string pattern = std::string(kRedisChannelPrefix) + "*";
      auto* reply = static_cast<redisReply*>(redisCommand(ctx, "PSUBSCRIBE %b", pattern.data(), pattern.size()));
      if (reply) freeReplyObject(reply);
      else error = ctx->errstr;
    }
    if (ctx && error.empty()) {
      spdlog::info("websocket pub/sub: worker {} subscribed on Redis {}:{}{}", options_.worker_index,
                   redis_url_->host, redis_url_->port, was_connected ? " again" : "");
      was_connected = true;
      backoff = 100ms;
      sub_fd_.store(ctx->fd);
      if (stopping_) ::shutdown(ctx->fd, SHUT_RDWR);
      for (;;) {
        void* raw = nullptr;
        if (redisGetReply(ctx, &raw) != REDIS_OK || !raw) {
          error = ctx->errstr;
          break;
        }
        auto* r = static_cast<redisReply*>(raw);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 && r->element[2]->type == REDIS_REPLY_STRING &&
            r->element[3]->type == REDIS_REPLY_STRING) {
          auto message = decodeRedisMessage({r->element[2]->str, r->element[2]->len},
                                            {r->element[3]->str, r->element[3]->len});
          if (message) deliverLocally(std::move(message->channel), std::move(message->payload), message->binary);
        }
        freeReplyObject(r);
      }
      sub_fd_.store(-1);
    }
    if (ctx) redisFree(ctx);
    if (stopping_) return;
    spdlog::warn("websocket pub/sub: Redis subscription of worker {} lost ({}); retrying in {} ms",
                 options_.worker_index, error.empty() ? "connection failed" : error, backoff.count());
    pollfd fd{stop_.get(), POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(backoff.count()));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace hyperion::websocket
