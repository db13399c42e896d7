#pragma once
// What a client sends on a WebSocket, parsed incrementally (RFC 6455
// section 5, RFC 7692): frame headers, unmasking, fragment reassembly,
// inflation of compressed messages, UTF-8 validation of text, control
// frames interleaved with fragments. Pure: bytes in, whole messages out,
// no sockets. Every violation ends parsing with the close code to send.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hyperion/websocket/deflate.hpp"
#include "hyperion/websocket/frame.hpp"
#include "hyperion/websocket/utf8.hpp"

namespace hyperion::websocket {

struct Message {
  enum class Kind { Text, Binary, Ping, Pong, Close };
  Kind kind = Kind::Text;
  std::string payload;  // a close frame's reason, without the code
  std::uint16_t close_code = close_code::kNoStatus;  // Close only
};

struct ParseFailure {
  std::uint16_t code = close_code::kProtocolError;
  std::string reason;  // for the close frame and the log
};

class FrameParser {
 public:
  // `deflate`: permessage-deflate was agreed (RSV1 marks compressed messages).
  FrameParser(std::size_t max_message_bytes, std::optional<DeflateParams> deflate);

  // Consumes all of data, appending each complete message or control frame
  // to `out` in order. False at the first violation (failure() says which);
  // the parser then accepts nothing more.
  bool feed(const char* data, std::size_t n, std::vector<Message>& out);
  const ParseFailure& failure() const { return failure_; }
  bool failed() const { return failed_; }
  // A data message has started and not ended (its fragments are buffered).
  bool inMessage() const { return in_message_; }

 private:
  bool fail(std::uint16_t code, std::string reason);
  bool startFrame();                                  // the header is complete
  bool takePayload(const char* data, std::size_t n);  // a piece of the current frame's payload
  bool endFrame(std::vector<Message>& out);
  bool checkText(std::size_t from);  // UTF-8 of the message's bytes from `from` on
  bool inflateInto(std::string_view compressed, bool last);
  bool endControlFrame(std::vector<Message>& out);

  std::size_t max_message_bytes_;
  std::unique_ptr<Inflater> inflater_;

  unsigned char header_[14] = {};
  std::size_t header_have_ = 0;
  std::size_t header_need_ = 2;

  // The frame being read.
  bool fin_ = false;
  bool rsv1_ = false;
  Opcode opcode_ = Opcode::Continuation;
  std::uint64_t payload_left_ = 0;
  unsigned char mask_[4] = {};
  std::size_t mask_index_ = 0;
  bool in_payload_ = false;

  // The data message being assembled (over its fragments).
  bool in_message_ = false;
  bool message_text_ = false;
  bool message_compressed_ = false;
  std::string message_;
  Utf8Validator utf8_;
  std::string control_;  // a control frame's payload (at most 125 bytes)
  std::string scratch_;  // unmasked compressed bytes on their way to the inflater

  bool failed_ = false;
  ParseFailure failure_;
};

}  // namespace hyperion::websocket
