#pragma once
// HTTP/2 over one connection (RFC 9113), with nghttp2 doing the framing,
// HPACK, flow control and the protocol checks on the loop thread. Each
// request stream becomes an Exchange that the Ruby threads answer exactly as
// an HTTP/1.1 one (or a prebuilt route / preloaded file answered here); the
// protocol-neutral replies become HEADERS and DATA frames, paced by the
// client's windows. Loop thread only.
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hyperion/http/response_head.hpp"
#include "hyperion/http1/request.hpp"
#include "hyperion/net/unique_fd.hpp"
#include "hyperion/server/session.hpp"

struct nghttp2_session;

namespace hyperion::http2 {

// The client connection preface (RFC 9113 section 3.4): what an h2c
// prior-knowledge client sends first.
inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class Http2Session final : public server::Session {
 public:
  // Queues the server's SETTINGS (the server preface); they leave with the
  // first onInput.
  Http2Session(server::SessionHost& host, server::Connection& conn);
  ~Http2Session() override;
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // The connection came from HTTP/1.1 by `Upgrade: h2c`: `request` (read
  // whole, body included) is stream 1, half-closed by the client;
  // `settings` is its decoded HTTP2-Settings.
  void acceptUpgrade(http1::Request request, const std::string& settings);

  void onInput(server::Connection& conn) override;
  void onWritable(server::Connection& conn) override;
  void onMessage(server::Connection& conn, server::LoopMessage& message) override;
  void onTimeout(server::Connection& conn) override;
  void onDrain(server::Connection& conn) override;
  void onClientGone() override;
  bool busy() const override { return !by_exchange_.empty(); }
  bool timesItsStreams() const override { return true; }
  bool owns(const server::Exchange& exchange) const override { return by_exchange_.count(&exchange) != 0; }

  // --- nghttp2 callbacks (callbacks.cpp in spirit; public so the C
  // trampolines can reach them) ---
  struct Stream;
  Stream* stream(std::int32_t id);
  int onBeginHeaders(std::int32_t id);
  int onHeader(std::int32_t id, std::string_view name, std::string_view value);
  void onEmptyData();
  int onTrailer(std::int32_t id, std::string_view name, std::string_view value);
  void onHeadersEnd(std::int32_t id, bool ends_stream);
  int onData(std::int32_t id, const std::uint8_t* data, std::size_t length);
  int onRequestEnd(std::int32_t id);
  int onStreamClose(std::int32_t id, std::uint32_t error_code);
  std::size_t headerListLimit() const;
  void logEnd(std::string_view what, std::uint32_t error_code, std::int32_t last_stream);
  long readBody(std::int32_t id, std::uint8_t* buffer, std::size_t length, std::uint32_t* flags);

 private:
  void dispatch(std::int32_t id, Stream& stream);
  // Opens the stream's window again for `n` body bytes the app (or the
  // buffer) took.
  void consumed(std::int32_t id, std::size_t n);
  bool answerNatively(std::int32_t id, Stream& stream, int& handler_id);
  // Submits the response head (and whether a body follows) for the stream.
  void submitHead(std::int32_t id, Stream& stream, int status, const http::HeaderList& headers,
                  std::optional<std::uint64_t> body_length, bool has_body);
  void reject(std::int32_t id, Stream& stream, int status, std::string_view why);
  void answerRejection(std::int32_t id, Stream& stream);
  void resume(std::int32_t id, Stream& stream);
  void finished(std::int32_t id, Stream& stream);
  void forget(std::int32_t id, Stream& stream);
  // Moves nghttp2's pending frames onto the connection's output.
  void flushFrames();
  void closeIfDone();

  server::SessionHost& host_;
  server::Connection& conn_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::unordered_map<const server::Exchange*, std::int32_t> by_exchange_;  // streams a Ruby thread answers
  bool flushing_ = false;
  bool going_away_ = false;
  bool failed_ = false;  // a connection error: no more input is read
  int empty_data_frames_ = 0;
};

}  // namespace hyperion::http2
