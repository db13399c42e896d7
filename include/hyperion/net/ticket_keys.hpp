#pragma once
// Session-ticket keys (RFC 5077 for TLS 1.2, RFC 8446 tickets for TLS 1.3)
// that every worker shares, so a returning client resumes on whichever
// worker the kernel hands it to. They live in one MAP_SHARED anonymous page
// made in the master before fork: a current key, which encrypts new
// tickets, and the previous one, which still decrypts (and asks OpenSSL to
// renew the ticket) for one more rotation interval.
//
// Keys are random (RAND_priv_bytes), never derived from one another, so a
// key that leaks opens only the tickets of its own two intervals. Rotation
// needs no coordinator: the first process to issue a ticket after the
// interval has passed rotates (a cross-process try-lock word decides who),
// and rotate() forces it (the master on SIGHUP). Readers use a seqlock over
// atomic words, so a worker never sees half a key.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "hyperion/util/result.hpp"

namespace hyperion::net {

class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name{};  // sent in the ticket, finds the key again
    std::array<unsigned char, 32> aes{};   // AES-256-CBC
    std::array<unsigned char, 32> hmac{};  // HMAC-SHA256
  };
  // Seconds on a clock every process of the machine shares (CLOCK_MONOTONIC).
  using Seconds = std::int64_t;
  static Seconds now();

  // The first key is made at `at` (tests pass it, so an interval does not
  // straddle a second boundary between create() and their own clock read).
  static Result<std::unique_ptr<TicketKeys>> create(std::chrono::seconds rotation, Seconds at = now());
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // The key for a new ticket, rotating first when the current one is due.
  Key current(Seconds now);
  // The key a ticket names, if it is still accepted. `renew`: the ticket was
  // made with the previous key, so the client should get a new one.
  std::optional<Key> find(const unsigned char* name, Seconds now, bool& renew) const;
  // A new current key now; the old one becomes the previous. False if another
  // process is rotating at this very moment (its new key is as good).
  bool rotate(Seconds now);
  std::uint64_t rotations() const;  // how many keys have been made, for logs and tests

 private:
  struct Shared;
  struct Ring {  // a consistent copy of the page's keys
    Key current, previous;
    Seconds previous_retired;
  };
  bool rotate(Seconds now, bool only_if_due);
  Ring read() const;  // the seqlock reader
  TicketKeys(Shared* page, std::chrono::seconds rotation) : page_(page), rotation_(rotation.count()) {}
  Shared* page_;
  Seconds rotation_;
};

}  // namespace hyperion::net
