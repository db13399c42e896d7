#include "hyperion/server/body_stream.hpp"

#include <algorithm>

namespace hyperion::server {

void BodyStream::push(std::string_view bytes) {
  if (bytes.empty()) return;
  std::lock_guard lock(mutex_);
  if (failed_) return;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  buffer_.append(bytes);
  cv_.notify_all();
}

void BodyStream::end() {
  std::lock_guard lock(mutex_);
  ended_ = true;
  cv_.notify_all();
}

void BodyStream::fail() {
  std::lock_guard lock(mutex_);
  failed_ = true;
  cv_.notify_all();
}

void BodyStream::interrupt() {
  std::lock_guard lock(mutex_);
  interrupted_ = true;
  cv_.notify_all();
}

BodyStream::Status BodyStream::take(std::string& out, std::size_t max, std::size_t& fresh) {
  fresh = 0;
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return offset_ < buffer_.size() || ended_ || failed_ || interrupted_; });
  if (failed_) return Status::Failed;
  if (offset_ < buffer_.size() && max > 0) {
    const std::size_t n = std::min(max, buffer_.size() - offset_);
    out.append(buffer_, offset_, n);
    offset_ += n;
    const std::size_t again = std::min(n, returned_);
    returned_ -= again;
    fresh = n - again;
    interrupted_ = false;
    return Status::Data;
  }
  if (interrupted_) {
    interrupted_ = false;
    return Status::Interrupted;
  }
  return offset_ < buffer_.size() ? Status::Data : Status::End;
}

void BodyStream::unread(std::string_view bytes) {
  std::lock_guard lock(mutex_);
  returned_ += bytes.size();
  if (bytes.size() <= offset_) {
    offset_ -= bytes.size();
    buffer_.replace(offset_, bytes.size(), bytes);
  } else {
    buffer_.insert(offset_, bytes);
  }
}

}  // namespace hyperion::server
