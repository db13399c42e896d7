#pragma once
// A published message as it travels between workers and servers: channel,
// kind (text or binary) and payload in one byte string. Pure encoding, so
// the worker bus and Redis carry the same thing and tests can check it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hyperion::websocket {

struct Published {
  std::string channel;
  std::string payload;
  bool binary = false;
};

// Redis carries the channel itself ("hyperion:ws:" + name); the message is
// one kind byte ('t' or 'b') then the payload.
inline constexpr std::string_view kRedisChannelPrefix = "hyperion:ws:";
std::string encodeRedisMessage(std::string_view payload, bool binary);
std::optional<Published> decodeRedisMessage(std::string_view redis_channel, std::string_view message);

// redis://[:password@]host[:port][/db]
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
};
std::optional<RedisUrl> parseRedisUrl(std::string_view url);

}  // namespace hyperion::websocket
