#include "hyperion/server/bridge_session.hpp"

#include "hyperion/server/connection.hpp"

namespace hyperion::server {
namespace {
std::size_t queuedBytes(const Connection& conn) {
  std::size_t n = 0;
  for (const auto& chunk : conn.output) n += static_cast<std::size_t>(chunk.length());
  return n - conn.output_offset;
}
}  // namespace

void BridgeSession::onInput(Connection& conn) {
  Connection* partner = host_.connectionById(partner_);
  if (!partner || partner->broken) {
    endBoth(conn);
    return;
  }
  if (conn.pendingInput() > 0) {
    if (queuedBytes(*partner) > kMaxQueued) {
      holding_ = true;  // the loop pauses reading once a little more is buffered
      return;
    }
    holding_ = false;
    host_.queueOutput(*partner, conn.input.substr(conn.input_offset), nullptr);
    conn.input.clear();
    conn.input_offset = 0;
    host_.flush(*partner);
  }
  if (conn.peer_closed) endBoth(conn);
}

void BridgeSession::onWritable(Connection& conn) {
  // Our output drained: the partner, if it stopped reading for our sake,
  // goes on.
  Connection* partner = host_.connectionById(partner_);
  if (!partner) {
    host_.closeWhenDone(conn);
    return;
  }
  if (partner->session->holdsInput()) {
    partner->session->onInput(*partner);
    if (partner->read_paused && !partner->session->holdsInput()) host_.resumeReading(*partner);
  }
  if (conn.close_after_flush) host_.closeWhenDone(conn);
}

void BridgeSession::endBoth(Connection& conn) {
  if (Connection* partner = host_.connectionById(partner_)) host_.closeWhenDone(*partner);
  host_.closeWhenDone(conn);
}

void BridgeSession::onDrain(Connection& conn) {
  // A hijacked socket is the app's; at shutdown it ends with the process
  // anyway. Ending it now lets the drain finish (clients reconnect).
  endBoth(conn);
}

void BridgeSession::onClientGone() {
  // Our socket broke (the loop destroys this side): the other goes too.
  if (Connection* partner = host_.connectionById(partner_)) host_.closeWhenDone(*partner);
}

}  // namespace hyperion::server
