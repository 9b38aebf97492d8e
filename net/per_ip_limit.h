// PerIpLimit: --max-conns-per-ip N, one worker's count of open connections per source address.
// The N+1th connection from one address is refused (503 on the upgrade). Each worker counts its
// own connections (the limit is per worker, like every herald limit that needs no shared state).
//
// The table is allocated once, at construction: open addressing with linear probing and
// backward-shift deletion (no tombstones), keyed by a hash seeded at random per table, so a
// client choosing many IPv6 source addresses cannot build long probe chains on purpose.
//
//   slot: 0                16        20
//         +----------------+---------+
//         | address (16 B) | count   |   count 0 = empty slot
//         +----------------+---------+
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace herald::net {

// A source address as 16 bytes: IPv6 as is, IPv4 as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2,
// ::ffff:a.b.c.d), so one client counts once on a dual-stack listener.
struct PeerIp {
    std::array<std::uint8_t, 16> bytes{};

    // From an accepted peer's address (AF_INET or AF_INET6; another family gives ::).
    static PeerIp from_sockaddr(const sockaddr* addr) noexcept;
    static PeerIp from_ipv4(std::uint32_t host_order) noexcept;
    bool operator==(const PeerIp&) const noexcept = default;
};

enum class PerIpAdmit : std::uint8_t {
    kAdmitted,   // counted: call remove() when the connection closes
    kOverLimit,  // the address already holds `limit` connections: answer 503
    kTableFull,  // `capacity` distinct addresses are tracked already: answer 503
};

class PerIpLimit {
  public:
    // `limit` connections per address (0: unlimited, nothing is tracked and nothing allocated);
    // at most `capacity` distinct addresses at once (the worker's connection limit suits).
    // Memory: 20 bytes x the power of two >= 2 x capacity, allocated here and never again.
    PerIpLimit(std::uint32_t limit, std::size_t capacity);

    // Counts one more connection from `ip` unless that breaks the limit. Allocates nothing.
    PerIpAdmit add(const PeerIp& ip) noexcept;
    // Forgets one admitted connection from `ip` (a no-op for an address not counted).
    void remove(const PeerIp& ip) noexcept;

    std::uint32_t count(const PeerIp& ip) const noexcept;
    std::size_t addresses() const noexcept { return used_; }  // distinct addresses counted
    std::uint32_t limit() const noexcept { return limit_; }

  private:
    struct Slot {
        PeerIp ip;
        std::uint32_t count = 0;
    };
    std::size_t home(const PeerIp& ip) const noexcept;
    std::size_t find(const PeerIp& ip) const noexcept;  // its slot, or the empty slot ending it

    std::uint32_t limit_;
    std::size_t capacity_;
    std::size_t mask_ = 0;  // slots - 1
    std::size_t used_ = 0;
    std::uint64_t seed_ = 0;
    std::unique_ptr<Slot[]> slots_;
};

}  // namespace herald::net
