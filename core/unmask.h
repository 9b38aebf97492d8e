// XOR (un)masking of WebSocket payloads (RFC 6455 §5.3), a word at a time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace herald::core {

// XORs data[0..n) in place with the 4-byte masking key `key` (the four key bytes in wire
// order), starting `phase` bytes into the key (0..3): byte i is XORed with key[(phase+i) % 4].
// Returns the phase for the byte that follows, so a payload can be unmasked in pieces.
// Masking and unmasking are the same operation.
std::size_t unmask(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                   std::size_t phase = 0) noexcept;

// unmask(), and in the same pass: true when every resulting byte is ASCII (below 0x80), so a
// text payload needs no further UTF-8 validation. The next phase is (phase + n) % 4.
bool unmask_ascii(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                  std::size_t phase = 0) noexcept;

// The byte-at-a-time reference the word version is tested and benchmarked against.
std::size_t unmask_bytewise(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                            std::size_t phase = 0) noexcept;

}  // namespace herald::core
