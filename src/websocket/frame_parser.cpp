#include "hyperion/websocket/frame_parser.hpp"

#include <algorithm>
#include <cstring>

namespace hyperion::websocket {
namespace {
bool isControl(Opcode op) { return static_cast<std::uint8_t>(op) & 0x8; }
}  // namespace

FrameParser::FrameParser(std::size_t max_message_bytes, std::optional<DeflateParams> deflate)
    : max_message_bytes_(max_message_bytes) {
  if (deflate) inflater_ = std::make_unique<Inflater>(*deflate);
}

bool FrameParser::fail(std::uint16_t code, std::string reason) {
  failed_ = true;
  failure_ = {code, std::move(reason)};
  return false;
}

bool FrameParser::feed(const char* data, std::size_t n, std::vector<Message>& out) {
  if (failed_) return false;
  std::size_t i = 0;
  while (i < n || (in_payload_ && payload_left_ == 0)) {
    if (!in_payload_) {
      const std::size_t take = std::min(header_need_ - header_have_, n - i);
      std::memcpy(header_ + header_have_, data + i, take);
      header_have_ += take;
      i += take;
      if (header_have_ < header_need_) return true;
      if (header_need_ == 2) {
        // Now the rest of the header's size is known: the extended length
        // (0, 2 or 8 bytes) and the 4-byte mask.
        const unsigned len7 = header_[1] & 0x7F;
        header_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
        if (header_need_ > 2) continue;
      }
      if (!startFrame()) return false;
      continue;
    }
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, n - i));
    if (take > 0) {
      if (!takePayload(data + i, take)) return false;
      i += take;
      payload_left_ -= take;
    }
    if (payload_left_ == 0 && !endFrame(out)) return false;
  }
  return true;
}

bool FrameParser::startFrame() {
  const unsigned char b0 = header_[0], b1 = header_[1];
  fin_ = b0 & 0x80;
  rsv1_ = b0 & 0x40;
  opcode_ = static_cast<Opcode>(b0 & 0x0F);
  const std::uint8_t op = b0 & 0x0F;
  if (b0 & 0x30) return fail(close_code::kProtocolError, "reserved bit RSV2 or RSV3 set");
  if ((op >= 3 && op <= 7) || op >= 0xB) return fail(close_code::kProtocolError, "reserved opcode " + std::to_string(op));
  if (!(b1 & 0x80)) return fail(close_code::kProtocolError, "client frame not masked");
  std::uint64_t length = b1 & 0x7F;
  std::size_t at = 2;
  if (length == 126) {
    length = (std::uint64_t{header_[2]} << 8) | header_[3];
    at = 4;
  } else if (length == 127) {
    length = 0;
    for (int k = 0; k < 8; ++k) length = (length << 8) | header_[2 + k];
    at = 10;
    if (length >> 63) return fail(close_code::kProtocolError, "frame length has its top bit set");
  }
  std::memcpy(mask_, header_ + at, 4);
  mask_index_ = 0;
  payload_left_ = length;
  header_have_ = 0;
  header_need_ = 2;
  in_payload_ = true;

  if (isControl(opcode_)) {
    if (!fin_) return fail(close_code::kProtocolError, "fragmented control frame");
    if (length > 125) return fail(close_code::kProtocolError, "control frame longer than 125 bytes");
    if (rsv1_) return fail(close_code::kProtocolError, "RSV1 set on a control frame");
    control_.clear();
    return true;
  }
  if (opcode_ == Opcode::Continuation) {
    if (!in_message_) return fail(close_code::kProtocolError, "continuation frame without a message to continue");
    if (rsv1_) return fail(close_code::kProtocolError, "RSV1 set on a continuation frame");
  } else {
    if (in_message_) return fail(close_code::kProtocolError, "new data frame inside a fragmented message");
    if (rsv1_ && !inflater_) return fail(close_code::kProtocolError, "RSV1 set without permessage-deflate");
    in_message_ = true;
    message_text_ = opcode_ == Opcode::Text;
    message_compressed_ = rsv1_;
    message_.clear();
    utf8_.reset();
  }
  // Refused from the header alone when the length says it cannot fit
  // (compressed bytes only tell once inflated).
  if (!message_compressed_ && message_.size() + length > max_message_bytes_)
    return fail(close_code::kTooBig, "message larger than " + std::to_string(max_message_bytes_) + " bytes");
  return true;
}

bool FrameParser::takePayload(const char* data, std::size_t n) {
  auto unmaskInto = [&](std::string& dest) {
    const std::size_t base = dest.size();
    dest.resize(base + n);
    char* to = dest.data() + base;
    for (std::size_t k = 0; k < n; ++k) to[k] = static_cast<char>(data[k] ^ mask_[(mask_index_ + k) & 3]);
    mask_index_ = (mask_index_ + n) & 3;
  };
  if (isControl(opcode_)) {
    unmaskInto(control_);
    return true;
  }
  if (message_compressed_) {
    scratch_.clear();
    unmaskInto(scratch_);
    return inflateInto(scratch_, false);
  }
  const std::size_t before = message_.size();
  unmaskInto(message_);
  return checkText(before);
}

bool FrameParser::checkText(std::size_t from) {
  // Fail fast: the first bad byte ends the connection, even mid-fragment.
  if (message_text_ && !utf8_.feed(message_.data() + from, message_.size() - from))
    return fail(close_code::kInvalidData, "text message is not valid UTF-8");
  return true;
}

bool FrameParser::inflateInto(std::string_view compressed, bool last) {
  const std::size_t before = message_.size();
  switch (inflater_->inflate(compressed, last, message_, max_message_bytes_)) {
    case Inflater::Status::Ok:
      return checkText(before);
    case Inflater::Status::TooBig:
      return fail(close_code::kTooBig, "message inflates past " + std::to_string(max_message_bytes_) + " bytes");
    case Inflater::Status::Corrupt:
      break;
  }
  return fail(close_code::kInvalidData, "compressed message is not valid DEFLATE data");
}

bool FrameParser::endFrame(std::vector<Message>& out) {
  in_payload_ = false;
  if (isControl(opcode_)) return endControlFrame(out);
  if (!fin_) return true;
  if (message_compressed_ && !inflateInto({}, true)) return false;  // the sender's stripped tail
  if (message_text_ && !utf8_.complete()) return fail(close_code::kInvalidData, "text message ends mid-character");
  Message message;
  message.kind = message_text_ ? Message::Kind::Text : Message::Kind::Binary;
  message.payload = std::move(message_);
  message_ = std::string();
  in_message_ = false;
  out.push_back(std::move(message));
  return true;
}

bool FrameParser::endControlFrame(std::vector<Message>& out) {
  Message message;
  switch (opcode_) {
    case Opcode::Ping:
      message.kind = Message::Kind::Ping;
      break;
    case Opcode::Pong:
      message.kind = Message::Kind::Pong;
      break;
    default: {
      message.kind = Message::Kind::Close;
      if (control_.size() == 1) return fail(close_code::kProtocolError, "close frame with a 1-byte payload");
      if (control_.size() >= 2) {
        message.close_code = static_cast<std::uint16_t>((static_cast<unsigned char>(control_[0]) << 8) |
                                                        static_cast<unsigned char>(control_[1]));
        if (!validCloseCode(message.close_code))
          return fail(close_code::kProtocolError, "invalid close code " + std::to_string(message.close_code));
        Utf8Validator reason;
        if (!reason.feed(control_.data() + 2, control_.size() - 2) || !reason.complete())
          return fail(close_code::kInvalidData, "close reason is not valid UTF-8");
        control_.erase(0, 2);
      }
      break;
    }
  }
  message.payload = std::move(control_);
  control_ = std::string();
  out.push_back(std::move(message));
  return true;
}

}  // namespace hyperion::websocket
