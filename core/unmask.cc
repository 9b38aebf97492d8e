// Word-at-a-time XOR unmasking: the key rotated to the phase, repeated into a 64-bit word.
#include "core/unmask.h"

#include <bit>
#include <cstring>

namespace herald::core {
namespace {

constexpr std::uint64_t kHighBits = 0x8080808080808080ull;

// The key rotated to `phase`, twice: bytes[i] = key[(phase + i) % 4] for i in 0..7, and the
// same eight bytes as one word (a rotate of the key loaded as a 32-bit word, not eight loads).
struct RotatedKey {
    RotatedKey(const std::uint8_t key[4], std::size_t phase) noexcept {
        std::uint32_t k;
        std::memcpy(&k, key, 4);
        const auto bits = static_cast<int>(8 * (phase & 3));
        if constexpr (std::endian::native == std::endian::little) {
            k = std::rotr(k, bits);
        } else {
            k = std::rotl(k, bits);
        }
        word = (std::uint64_t{k} << 32) | k;
        std::memcpy(bytes, &word, 8);
    }
    std::uint64_t word;
    std::uint8_t bytes[8];
};

std::uint64_t load(const std::uint8_t* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}

void store(std::uint8_t* p, std::uint64_t w) noexcept { std::memcpy(p, &w, 8); }

}  // namespace

// Both loops are written so that GCC turns them into 16-byte vector loads, XORs and stores;
// memcpy keeps the unaligned accesses well-defined (and free on x86-64 and AArch64), so the
// head of a payload needs no special case.
std::size_t unmask(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                   std::size_t phase) noexcept {
    const RotatedKey k(key, phase);
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        std::uint64_t w[4];
        std::memcpy(w, data + i, 32);
        w[0] ^= k.word;
        w[1] ^= k.word;
        w[2] ^= k.word;
        w[3] ^= k.word;
        std::memcpy(data + i, w, 32);
    }
    for (; i + 8 <= n; i += 8) store(data + i, load(data + i) ^ k.word);
    for (; i < n; ++i) data[i] ^= k.bytes[i & 3];
    return (phase + n) & 3;
}

bool unmask_ascii(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                  std::size_t phase) noexcept {
    const RotatedKey k(key, phase);
    // One accumulator per word of a 16-byte step: the ORs stay in a vector register.
    std::uint64_t seen0 = 0;
    std::uint64_t seen1 = 0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const std::uint64_t a = load(data + i) ^ k.word;
        const std::uint64_t b = load(data + i + 8) ^ k.word;
        store(data + i, a);
        store(data + i + 8, b);
        seen0 |= a;
        seen1 |= b;
    }
    for (; i + 8 <= n; i += 8) {
        const std::uint64_t a = load(data + i) ^ k.word;
        store(data + i, a);
        seen0 |= a;
    }
    for (; i < n; ++i) {
        data[i] ^= k.bytes[i & 3];
        seen1 |= data[i];
    }
    return ((seen0 | seen1) & kHighBits) == 0;
}

std::size_t unmask_bytewise(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                            std::size_t phase) noexcept {
    for (std::size_t i = 0; i < n; ++i) data[i] ^= key[(phase + i) & 3];
    return (phase + n) & 3;
}

}  // namespace herald::core
