#include "hyperion/websocket/pubsub_message.hpp"

#include <charconv>

namespace hyperion::websocket {

std::string encodeRedisMessage(std::string_view payload, bool binary) {
  std::string out;
  out.reserve(payload.size() + 1);
  out.push_back(binary ? 'b' : 't');
  out.append(payload);
  return out;
}

std::optional<Published> decodeRedisMessage(std::string_view redis_channel, std::string_view message) {
  if (redis_channel.substr(0, kRedisChannelPrefix.size()) != kRedisChannelPrefix) return std::nullopt;
  if (message.empty() || (message[0] != 't' && message[0] != 'b')) return std::nullopt;
  Published p;
  p.channel = std::string(redis_channel.substr(kRedisChannelPrefix.size()));
  p.binary = message[0] == 'b';
  p.payload = std::string(message.substr(1));
  return p;
}

std::optional<RedisUrl> parseRedisUrl(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  url.remove_prefix(scheme.size());
  RedisUrl out;
  if (auto at = url.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = url.substr(0, at);
    if (auto colon = auth.find(':'); colon != std::string_view::npos) auth.remove_prefix(colon + 1);
    out.password = std::string(auth);
    url.remove_prefix(at + 1);
  }
  std::string_view hostport = url.substr(0, url.find('/'));
  if (auto slash = url.find('/'); slash != std::string_view::npos) {
    std::string_view db = url.substr(slash + 1);
    if (!db.empty()) {
      auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), out.db);
      if (ec != std::errc() || end != db.data() + db.size() || out.db < 0) return std::nullopt;
    }
  }
  if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = hostport.substr(colon + 1);
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || end != port.data() + port.size() || out.port <= 0 || out.port > 65535)
      return std::nullopt;
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) out.host = std::string(hostport);
  return out;
}

}  // namespace hyperion::websocket
