#include "net/per_ip_limit.h"

#include <bit>
#include <cstring>
#include <random>

namespace herald::net {
namespace {

std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

PeerIp PeerIp::from_ipv4(std::uint32_t host_order) noexcept {
    PeerIp ip;
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    for (int i = 0; i < 4; ++i) {
        ip.bytes[static_cast<std::size_t>(12 + i)] =
            static_cast<std::uint8_t>(host_order >> (24 - 8 * i));
    }
    return ip;
}

PeerIp PeerIp::from_sockaddr(const sockaddr* addr) noexcept {
    PeerIp ip;
    if (addr->sa_family == AF_INET) {
        sockaddr_in in4{};
        std::memcpy(&in4, addr, sizeof in4);
        return from_ipv4(ntohl(in4.sin_addr.s_addr));
    }
    if (addr->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, addr, sizeof in6);
        std::memcpy(ip.bytes.data(), &in6.sin6_addr, 16);
    }
    return ip;
}

PerIpLimit::PerIpLimit(std::uint32_t limit, std::size_t capacity)
    : limit_(limit), capacity_(capacity) {
    if (limit_ == 0 || capacity_ == 0) return;
    const std::size_t slots = std::bit_ceil(2 * capacity_);
    mask_ = slots - 1;
    slots_ = std::make_unique<Slot[]>(slots);
    seed_ = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
}

std::size_t PerIpLimit::home(const PeerIp& ip) const noexcept {
    std::uint64_t hi = 0, lo = 0;
    std::memcpy(&hi, ip.bytes.data(), 8);
    std::memcpy(&lo, ip.bytes.data() + 8, 8);
    return static_cast<std::size_t>(mix(mix(hi ^ seed_) ^ lo)) & mask_;
}

std::size_t PerIpLimit::find(const PeerIp& ip) const noexcept {
    std::size_t i = home(ip);
    while (slots_[i].count != 0 && !(slots_[i].ip == ip)) i = (i + 1) & mask_;
    return i;  // never loops forever: at most half the slots are used
}

PerIpAdmit PerIpLimit::add(const PeerIp& ip) noexcept {
    if (!slots_) return PerIpAdmit::kAdmitted;
    Slot& s = slots_[find(ip)];
    if (s.count == 0) {
        if (used_ >= capacity_) return PerIpAdmit::kTableFull;
        s.ip = ip;
        ++used_;
    } else if (s.count >= limit_) {
        return PerIpAdmit::kOverLimit;
    }
    ++s.count;
    return PerIpAdmit::kAdmitted;
}

std::uint32_t PerIpLimit::count(const PeerIp& ip) const noexcept {
    return slots_ ? slots_[find(ip)].count : 0;
}

void PerIpLimit::remove(const PeerIp& ip) noexcept {
    if (!slots_) return;
    std::size_t hole = find(ip);
    if (slots_[hole].count == 0 || --slots_[hole].count != 0) return;
    --used_;
    // Backward-shift deletion: pull later entries of the probe run into the hole when the hole
    // lies between their home and their slot, so lookups never need tombstones.
    for (std::size_t j = (hole + 1) & mask_; slots_[j].count != 0; j = (j + 1) & mask_) {
        const std::size_t h = home(slots_[j].ip);
        const bool movable = ((j - h) & mask_) >= ((j - hole) & mask_);
        if (!movable) continue;
        slots_[hole] = slots_[j];
        slots_[j].count = 0;
        hole = j;
    }
}

}  // namespace herald::net
