#pragma once
// HTTP/1.1 over one connection: feeds the parser, answers 100-continue,
// rejections and native routes itself, hands other requests to Ruby one at
// a time (pipelined ones wait their turn, answered in order), applies the
// keep-alive rules and the header/body/idle deadlines. Loop thread only.
#include <memory>
#include <string>

#include "hyperion/http/response_head.hpp"
#include "hyperion/http1/request_parser.hpp"
#include "hyperion/http1/response.hpp"
#include "hyperion/server/session.hpp"

namespace hyperion::websocket {
struct UpgradeCheck;
}

namespace hyperion::http1 {

class Http1Session final : public server::Session {
 public:
  explicit Http1Session(server::SessionHost& host);

  void onInput(server::Connection& conn) override;
  void onWritable(server::Connection& conn) override;
  void onMessage(server::Connection& conn, server::LoopMessage& message) override;
  void onTimeout(server::Connection& conn) override;
  void onDrain(server::Connection& conn) override;
  void onClientGone() override;
  bool busy() const override { return in_flight_ != nullptr; }
  bool owns(const server::Exchange& exchange) const override { return in_flight_.get() == &exchange; }

 private:
  void dispatch(server::Connection& conn, Request request, bool websocket = false);
  void rejectWebSocket(server::Connection& conn, const websocket::UpgradeCheck& check);
  // The app set env['rack.upgrade']: 101, then the connection is a WebSocket.
  void acceptWebSocket(server::Connection& conn, const std::shared_ptr<server::Exchange>& exchange,
                       const std::string& protocol);
  void reject(server::Connection& conn, const ParseError& error);
  // The last response on this connection (a rejection): written, then a
  // lingering close, the rest of the input ignored.
  void answerAndClose(server::Connection& conn, std::string response);
  // The Ruby thread's protocol-neutral reply, framed for HTTP/1.1.
  std::string frameHead(const server::Exchange& exchange, http::ResponseHead head);
  void writeBody(server::Connection& conn, const std::shared_ptr<server::Exchange>& owner, std::string& head_bytes,
                 std::string bytes);
  void writeFramed(server::Connection& conn, const std::shared_ptr<server::Exchange>& owner, std::string& prefix,
                   std::string bytes, std::string_view suffix = {});
  void finishReply(server::Connection& conn, server::Exchange& exchange, bool complete,
                   const http::HeaderList* trailers);
  void onFinish(server::Connection& conn, server::Exchange& exchange, bool keep_alive);
  void onHijack(server::Connection& conn, const std::shared_ptr<server::Exchange>& exchange);
  void recordRequest(const server::Connection& conn, const server::Exchange& exchange, int status, std::size_t bytes);

  // Answered without Ruby (native_answers.cpp): prebuilt routes and
  // preloaded static directories. `handler_id` is set for a Ruby route.
  bool answerNatively(server::Connection& conn, const Request& request, int& handler_id);
  bool answerFromStaticDirectory(server::Connection& conn, const Request& request);
  void finishNative(server::Connection& conn, const Request& request, int status, std::size_t body_bytes,
                    bool keep_alive);

  server::SessionHost& host_;
  RequestParser parser_;
  std::shared_ptr<server::Exchange> in_flight_;  // at most one
  server::Clock::time_point request_started_{};  // first byte of the request being read

  // How the in-flight exchange's reply is being framed (reset per request).
  struct Reply {
    bool head_seen = false;
    bool raw = false;  // partial hijack: the app owns the rest of the stream
    int status = 0;
    BodyFraming framing = BodyFraming::None;
    std::uint64_t content_length = 0;
    std::uint64_t body_sent = 0;  // body bytes framed (the access log's figure)
    bool keep_alive = false;
  } reply_;
};

}  // namespace hyperion::http1
