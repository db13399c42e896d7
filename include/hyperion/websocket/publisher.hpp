#pragma once
// Hyperion.publish's way out of Ruby: one call, and the message reaches
// every subscriber of the channel that the configured reach covers (this
// worker, this server's workers, every server on the same Redis). Any
// thread may call it; it may block briefly (a full socket to another
// worker, Redis), so the Ruby side calls it with the GVL released.
#include <string_view>

namespace hyperion::websocket {

class Publisher {
 public:
  virtual ~Publisher() = default;
  // False when the message could not be handed on (logged by the publisher).
  virtual bool publish(std::string_view channel, std::string_view payload, bool binary) = 0;
};

}  // namespace hyperion::websocket
