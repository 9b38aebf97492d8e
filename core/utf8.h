// UTF-8 validation (RFC 3629) that works on 8-byte words and resumes across chunk boundaries.
#pragma once

#include <cstddef>
#include <cstdint>

namespace herald::core {

// Validates a byte stream that arrives in arbitrary pieces (WebSocket fragments, partial reads).
//
// Rejects overlongs, surrogates (U+D800..U+DFFF), code points above U+10FFFF and stray
// continuation bytes, as soon as the first byte that makes the prefix invalid is fed
// ("fail fast", RFC 6455 §8.1) -- at the latest, by the end of the chunk that holds it. ASCII is
// checked up to 128 bytes per step with 64-bit words; other text goes through a DFA (one table load
// and one shift per byte), and runs of 64 bytes or more of it through simdjson's SIMD validator up
// to their last complete code point.
class Utf8Validator {
  public:
    // Feeds the next n bytes. Returns false once the stream so far cannot be a prefix of valid
    // UTF-8; after that the validator stays failed until reset().
    bool feed(const std::uint8_t* data, std::size_t n) noexcept;

    // True when everything fed so far is valid and ends on a code point boundary.
    bool complete() const noexcept { return state_ == kAccept; }

    // True when feed() has returned false.
    bool failed() const noexcept { return state_ == kReject; }

    void reset() noexcept { state_ = kAccept; }

    // DFA states are bit offsets (multiples of 6) into a 64-bit transition row; see utf8.cc.
    static constexpr std::uint8_t kAccept = 0;
    static constexpr std::uint8_t kReject = 6;

  private:
    std::uint8_t state_ = kAccept;
};

// True when [data, data + n) is complete, valid UTF-8.
bool is_valid_utf8(const std::uint8_t* data, std::size_t n) noexcept;

}  // namespace herald::core
