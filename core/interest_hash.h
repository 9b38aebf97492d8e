// An order-independent digest of a set of group ids: the XOR of a 64-bit hash of each id, so a
// set kept by joins and leaves in any order has one value, updated in O(id length) per change.
// Workers publish theirs in /stats (interest_hash); the hub keeps the same digest of what it
// believes each worker holds, so the two can be compared.
#pragma once

#include <cstdint>
#include <string_view>

namespace herald::core {

// A 64-bit hash of `id`: FNV-1a, then the splitmix64 finalizer so that ids differing in one
// byte differ in about half the bits. Stable across processes and builds (never std::hash).
constexpr std::uint64_t group_id_hash(std::string_view id) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : id) {
        h ^= static_cast<std::uint8_t>(c);
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

// The digest of a set: toggle(id) when `id` enters or leaves it (XOR: the two are the same).
// An empty set digests to 0.
class InterestDigest {
  public:
    void toggle(std::string_view id) noexcept { value_ ^= group_id_hash(id); }
    std::uint64_t value() const noexcept { return value_; }
    void clear() noexcept { value_ = 0; }

  private:
    std::uint64_t value_ = 0;
};

}  // namespace herald::core
