#pragma once
// Rack hijack over TLS: the app cannot have the TCP socket (it carries
// ciphertext), so it gets one end of a socketpair and the loop copies
// plaintext both ways between the TLS connection and the other end. Each
// of the two is an ordinary Connection whose session is a BridgeSession
// naming its partner; output queues, flow control and the TLS transport
// are the loop's usual ones. A side that ends (EOF, error, drain) ends both.
#include <cstdint>

#include "hyperion/server/session.hpp"

namespace hyperion::server {

class BridgeSession final : public Session {
 public:
  BridgeSession(SessionHost& host, std::uint64_t partner) : host_(host), partner_(partner) {}

  void onInput(Connection& conn) override;
  void onWritable(Connection& conn) override;  // the partner may send us more now
  void onMessage(Connection&, LoopMessage&) override {}
  void onTimeout(Connection&) override {}  // the app owns the protocol's deadlines
  void onDrain(Connection& conn) override;
  void onClientGone() override;
  bool busy() const override { return false; }
  bool holdsInput() const override { return holding_; }
  bool owns(const Exchange&) const override { return false; }

  // Bytes queued on the partner past which we stop reading our side.
  static constexpr std::size_t kMaxQueued = 1u << 20;

 private:
  void endBoth(Connection& conn);

  SessionHost& host_;
  std::uint64_t partner_;
  bool holding_ = false;
};

}  // namespace hyperion::server
