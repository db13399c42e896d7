#pragma once
// HTTP/1.1 over one connection: feeds the parser, answers 100-continue,
// rejections and native routes itself, hands other requests to Ruby one at
// a time (pipelined ones wait their turn, answered in order), applies the
// keep-alive rules and the header/body/idle deadlines. Loop thread only.
#include <memory>
#include <string>

#include "hyperion/http1/request_parser.hpp"
#include "hyperion/server/session.hpp"

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
  void dispatch(server::Connection& conn, Request request);
  void reject(server::Connection& conn, const ParseError& error);
  void onFinish(server::Connection& conn, server::Exchange& exchange, bool keep_alive);
  void onHijack(server::Connection& conn, const std::shared_ptr<server::Exchange>& exchange);

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
};

}  // namespace hyperion::http1
