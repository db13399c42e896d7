// The shared session-ticket key ring (see ticket_keys.hpp for why it is
// shared memory and how rotation is decided).
#include "hyperion/net/ticket_keys.hpp"

#include <openssl/rand.h>
#include <sys/mman.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <new>

namespace hyperion::net {

// Only atomics, so the page means the same to every process that maps it
// (std::atomic of 64 bits is lock-free, hence address-free, on Linux).
namespace {
constexpr std::size_t kKeyWords = sizeof(TicketKeys::Key) / sizeof(std::uint64_t);
static_assert(sizeof(TicketKeys::Key) % sizeof(std::uint64_t) == 0, "a Key is copied as whole words");
}  // namespace

struct TicketKeys::Shared {
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the page is shared between processes");

  std::atomic<std::uint64_t> sequence{0};  // odd while a writer changes what follows
  std::atomic<std::uint32_t> writer{0};    // 1 while one process rotates
  std::atomic<std::uint64_t> made{0};
  std::atomic<Seconds> current_since{0};
  std::atomic<Seconds> previous_retired{std::numeric_limits<Seconds>::min()};  // min: no previous key
  std::atomic<std::uint64_t> current[kKeyWords];
  std::atomic<std::uint64_t> previous[kKeyWords];
};

namespace {

void store(std::atomic<std::uint64_t>* words, const TicketKeys::Key& key) {
  std::uint64_t plain[kKeyWords];
  std::memcpy(plain, &key, sizeof plain);
  for (std::size_t i = 0; i < std::size(plain); ++i) words[i].store(plain[i], std::memory_order_relaxed);
}

TicketKeys::Key load(const std::atomic<std::uint64_t>* words) {
  std::uint64_t plain[kKeyWords];
  for (std::size_t i = 0; i < std::size(plain); ++i) plain[i] = words[i].load(std::memory_order_relaxed);
  TicketKeys::Key key;
  std::memcpy(&key, plain, sizeof plain);
  return key;
}

bool randomKey(TicketKeys::Key& key) {
  return RAND_priv_bytes(key.name.data(), static_cast<int>(key.name.size())) == 1 &&
         RAND_priv_bytes(key.aes.data(), static_cast<int>(key.aes.size())) == 1 &&
         RAND_priv_bytes(key.hmac.data(), static_cast<int>(key.hmac.size())) == 1;
}

}  // namespace

TicketKeys::Seconds TicketKeys::now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

Result<std::unique_ptr<TicketKeys>> TicketKeys::create(std::chrono::seconds rotation, Seconds at) {
  void* memory = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return Error{std::string("TLS ticket keys: mmap: ") + std::strerror(errno)};
  auto* page = new (memory) Shared;
  std::unique_ptr<TicketKeys> keys(new TicketKeys(page, rotation));
  if (!keys->rotate(at)) return Error{"TLS ticket keys: the random generator failed"};
  return keys;
}

TicketKeys::~TicketKeys() {
  page_->~Shared();
  ::munmap(page_, sizeof(Shared));
}

bool TicketKeys::rotate(Seconds at) { return rotate(at, false); }

bool TicketKeys::rotate(Seconds at, bool only_if_due) {
  std::uint32_t idle = 0;
  if (!page_->writer.compare_exchange_strong(idle, 1, std::memory_order_acquire)) return false;
  // Two processes may both have seen the key due; the second one in must not
  // rotate again, or the key made a moment ago would lose its grace interval.
  if (only_if_due && at - page_->current_since.load(std::memory_order_relaxed) < rotation_) {
    page_->writer.store(0, std::memory_order_release);
    return false;
  }
  Key fresh;
  const bool made = randomKey(fresh);
  if (made) {
    const std::uint64_t sequence = page_->sequence.load(std::memory_order_relaxed);
    page_->sequence.store(sequence + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    const bool first = page_->made.load(std::memory_order_relaxed) == 0;
    store(page_->previous, load(page_->current));
    store(page_->current, fresh);
    page_->previous_retired.store(first ? std::numeric_limits<Seconds>::min() : at, std::memory_order_relaxed);
    page_->current_since.store(at, std::memory_order_relaxed);
    page_->made.fetch_add(1, std::memory_order_relaxed);
    page_->sequence.store(sequence + 2, std::memory_order_release);
  }
  page_->writer.store(0, std::memory_order_release);
  return made;
}

std::uint64_t TicketKeys::rotations() const { return page_->made.load(std::memory_order_acquire); }

TicketKeys::Ring TicketKeys::read() const {
  for (;;) {
    const std::uint64_t before = page_->sequence.load(std::memory_order_acquire);
    Ring ring{load(page_->current), load(page_->previous), page_->previous_retired.load(std::memory_order_relaxed)};
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((before & 1) == 0 && page_->sequence.load(std::memory_order_relaxed) == before) return ring;
  }
}

TicketKeys::Key TicketKeys::current(Seconds at) {
  if (at - page_->current_since.load(std::memory_order_relaxed) >= rotation_) rotate(at, true);
  return read().current;
}

std::optional<TicketKeys::Key> TicketKeys::find(const unsigned char* name, Seconds at, bool& renew) const {
  const Ring ring = read();
  if (std::memcmp(name, ring.current.name.data(), ring.current.name.size()) == 0) {
    renew = false;
    return ring.current;
  }
  // The previous key decrypts for one interval after it stopped encrypting.
  if (ring.previous_retired != std::numeric_limits<Seconds>::min() && at - ring.previous_retired < rotation_ &&
      std::memcmp(name, ring.previous.name.data(), ring.previous.name.size()) == 0) {
    renew = true;
    return ring.previous;
  }
  return std::nullopt;
}

}  // namespace hyperion::net
