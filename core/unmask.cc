#include "core/unmask.h"

#include <cstring>

namespace herald::core {

std::size_t unmask(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                   std::size_t phase) noexcept {
    // The key rotated to `phase`, twice: one 64-bit word of mask.
    std::uint8_t k[8];
    for (std::size_t i = 0; i < 8; ++i) k[i] = key[(phase + i) & 3];
    std::uint64_t word;
    std::memcpy(&word, k, 8);
    std::size_t i = 0;
    // Four words per step (the compiler turns this into vector XORs); memcpy keeps unaligned
    // access well-defined.
    for (; i + 32 <= n; i += 32) {
        std::uint64_t w[4];
        std::memcpy(w, data + i, 32);
        w[0] ^= word;
        w[1] ^= word;
        w[2] ^= word;
        w[3] ^= word;
        std::memcpy(data + i, w, 32);
    }
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, data + i, 8);
        w ^= word;
        std::memcpy(data + i, &w, 8);
    }
    for (; i < n; ++i) data[i] ^= k[i & 3];
    return (phase + n) & 3;
}

std::size_t unmask_bytewise(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                            std::size_t phase) noexcept {
    for (std::size_t i = 0; i < n; ++i) data[i] ^= key[(phase + i) & 3];
    return (phase + n) & 3;
}

}  // namespace herald::core
