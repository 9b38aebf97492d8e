// Word-at-a-time XOR unmasking: the key rotated to the phase, repeated into a 64-bit word.
#include "core/unmask.h"

#include <cstring>

namespace herald::core {
namespace {

constexpr std::uint64_t kHighBits = 0x8080808080808080ull;

// XORs data[0..n) with the rotated key `k` (k[i] = key[(phase + i) % 4], twice over) and
// returns the OR of every resulting byte's bits, gathered per word (only when kGather).
// Four words per step, which GCC and Clang turn into vector XORs; memcpy keeps unaligned
// loads and stores well-defined, and they cost nothing extra on x86-64 and AArch64.
template <bool kGather>
std::uint64_t xor_key(std::uint8_t* data, std::size_t n, const std::uint8_t (&k)[8]) noexcept {
    std::uint64_t word;
    std::memcpy(&word, k, 8);
    std::uint64_t acc[4] = {0, 0, 0, 0};  // per lane: the OR stays in vector registers
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        std::uint64_t w[4];
        std::memcpy(w, data + i, 32);
        w[0] ^= word;
        w[1] ^= word;
        w[2] ^= word;
        w[3] ^= word;
        std::memcpy(data + i, w, 32);
        if constexpr (kGather) {
            acc[0] |= w[0];
            acc[1] |= w[1];
            acc[2] |= w[2];
            acc[3] |= w[3];
        }
    }
    std::uint64_t seen = acc[0] | acc[1] | acc[2] | acc[3];
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, data + i, 8);
        w ^= word;
        std::memcpy(data + i, &w, 8);
        if constexpr (kGather) seen |= w;
    }
    for (; i < n; ++i) {
        data[i] ^= k[i & 3];
        if constexpr (kGather) seen |= data[i];
    }
    return seen;
}

void rotated_key(const std::uint8_t key[4], std::size_t phase, std::uint8_t (&k)[8]) noexcept {
    for (std::size_t i = 0; i < 8; ++i) k[i] = key[(phase + i) & 3];
}

}  // namespace

std::size_t unmask(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                   std::size_t phase) noexcept {
    std::uint8_t k[8];
    rotated_key(key, phase, k);
    xor_key<false>(data, n, k);
    return (phase + n) & 3;
}

bool unmask_ascii(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                  std::size_t phase) noexcept {
    std::uint8_t k[8];
    rotated_key(key, phase, k);
    return (xor_key<true>(data, n, k) & kHighBits) == 0;
}

std::size_t unmask_bytewise(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                            std::size_t phase) noexcept {
    for (std::size_t i = 0; i < n; ++i) data[i] ^= key[(phase + i) & 3];
    return (phase + n) & 3;
}

}  // namespace herald::core
