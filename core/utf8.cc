// UTF-8 validation: ASCII in 64-bit words, a shift DFA for the rest, simdjson for long runs.
#include "core/utf8.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace herald::core {
namespace {

// The DFA of the well-formed byte sequences of RFC 3629 (Unicode Table 3-7) as a "shift DFA":
// a state is a bit offset, and kRow[byte] packs, for every state s, the next state at bits
// [s, s + 6). A step is `state = kRow[byte] >> (state & 63)`: a load that does not depend on
// the state and one shift that does (x86 and ARM mask the shift count by themselves, so the
// `& 63` costs nothing; the bits above the offset are garbage until the state is masked).
//
//   state      offset  meaning
//   kBoundary   0      accept: at a code point boundary
//   kRej        6      reject (absorbing)
//   kNeed1     12      one more continuation byte (80..BF)
//   kNeed2     18      two more
//   kNeed3     24      three more
//   kAfterE0   30      after E0: A0..BF next (no overlongs), then one more
//   kAfterED   36      after ED: 80..9F next (no surrogates), then one more
//   kAfterF0   42      after F0: 90..BF next (no overlongs), then two more
//   kAfterF4   48      after F4: 80..8F next (nothing above U+10FFFF), then two more
enum State : unsigned {
    kBoundary,
    kRej,
    kNeed1,
    kNeed2,
    kNeed3,
    kAfterE0,
    kAfterED,
    kAfterF0,
    kAfterF4,
    kStates,
};
constexpr unsigned kBits = 6;
static_assert(kStates * kBits <= 64, "every state's next state fits in one 64-bit row");
static_assert(kBoundary * kBits == Utf8Validator::kAccept &&
              kRej * kBits == Utf8Validator::kReject);

constexpr bool in(unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; }

constexpr unsigned next_state(unsigned s, unsigned b) {
    switch (s) {
        case kBoundary:
            if (b <= 0x7F) return kBoundary;
            if (in(b, 0xC2, 0xDF)) return kNeed1;
            if (b == 0xE0) return kAfterE0;
            if (b == 0xED) return kAfterED;
            if (in(b, 0xE1, 0xEF)) return kNeed2;
            if (b == 0xF0) return kAfterF0;
            if (in(b, 0xF1, 0xF3)) return kNeed3;
            if (b == 0xF4) return kAfterF4;
            return kRej;  // 80..C1 (stray continuation, overlong lead), F5..FF
        case kNeed1:
            return in(b, 0x80, 0xBF) ? kBoundary : kRej;
        case kNeed2:
            return in(b, 0x80, 0xBF) ? kNeed1 : kRej;
        case kNeed3:
            return in(b, 0x80, 0xBF) ? kNeed2 : kRej;
        case kAfterE0:
            return in(b, 0xA0, 0xBF) ? kNeed1 : kRej;
        case kAfterED:
            return in(b, 0x80, 0x9F) ? kNeed1 : kRej;
        case kAfterF0:
            return in(b, 0x90, 0xBF) ? kNeed2 : kRej;
        case kAfterF4:
            return in(b, 0x80, 0x8F) ? kNeed2 : kRej;
        default:
            return kRej;
    }
}

constexpr std::array<std::uint64_t, 256> make_rows() {
    std::array<std::uint64_t, 256> rows{};
    for (unsigned b = 0; b < 256; ++b) {
        for (unsigned s = 0; s < kStates; ++s) {
            rows[b] |= std::uint64_t{next_state(s, b) * kBits} << (s * kBits);
        }
    }
    return rows;
}
alignas(64) constexpr std::array<std::uint64_t, 256> kRow = make_rows();

constexpr std::uint64_t kHighBits = 0x8080808080808080ull;
constexpr std::size_t kDfaRun = 16;   // DFA bytes between two looks for ASCII words
constexpr std::size_t kSimdMin = 64;  // shorter runs: the DFA beats a simdjson call

std::uint64_t load(const std::uint8_t* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

// Index, within a word, of the first byte whose high bit is set in `high` (non-zero).
std::size_t first_high_byte(std::uint64_t high) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        return static_cast<std::size_t>(std::countr_zero(high)) / 8;
    } else {
        return static_cast<std::size_t>(std::countl_zero(high)) / 8;
    }
}

// The index of the first non-ASCII byte of data[i, n), or n.
std::size_t skip_ascii(const std::uint8_t* data, std::size_t i, std::size_t n) noexcept {
    // Long runs: 128 bytes per branch (the ORs vectorize); then 32, then 8, then the rest.
    for (; i + 128 <= n; i += 128) {
        std::uint64_t any = 0;
        for (std::size_t k = 0; k < 128; k += 8) any |= load(data + i + k);
        if ((any & kHighBits) != 0) break;
    }
    for (; i + 32 <= n; i += 32) {
        const std::uint64_t any =
            load(data + i) | load(data + i + 8) | load(data + i + 16) | load(data + i + 24);
        if ((any & kHighBits) != 0) break;
    }
    for (; i + 8 <= n; i += 8) {
        const std::uint64_t high = load(data + i) & kHighBits;
        if (high != 0) return i + first_high_byte(high);
    }
    // The last 0..7 bytes: one word that ends at n (it may overlap bytes already seen).
    if (i == n || (n >= 8 && (load(data + n - 8) & kHighBits) == 0)) return n;
    while (i < n && data[i] < 0x80) ++i;
    return i;
}

// Where the last complete code point of data[0, n) ends: n, or the start of a sequence cut
// off by the end of the data (only the last three bytes can hold one).
std::size_t last_boundary(const std::uint8_t* data, std::size_t n) noexcept {
    for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
        const std::uint8_t b = data[n - back];
        if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back
        const std::size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        return len > back ? n - back : n;
    }
    return n;
}

}  // namespace

bool Utf8Validator::feed(const std::uint8_t* data, std::size_t n) noexcept {
    std::uint64_t state = state_;
    std::size_t i = 0;
    while (i < n) {
        if (state == kAccept) {
            i = skip_ascii(data, i, n);
            if (i == n) break;
            // A long non-ASCII run: SIMD validation up to its last complete code point; the
            // DFA takes over for a sequence the chunk cuts off.
            if (n - i >= kSimdMin) {
                const std::size_t end = i + last_boundary(data + i, n - i);
                if (!simdjson::validate_utf8(reinterpret_cast<const char*>(data + i), end - i)) {
                    state = kReject;
                    break;
                }
                i = end;
                continue;
            }
        }
        // A short stretch through the DFA (rejection is absorbing: checked once at its end).
        const std::size_t end = std::min(n, i + kDfaRun);
        for (; i < end; ++i) state = kRow[data[i]] >> (state & 63);
        state &= 63;
        if (state == kReject) break;
    }
    state_ = static_cast<std::uint8_t>(state);
    return state != kReject;
}

bool is_valid_utf8(const std::uint8_t* data, std::size_t n) noexcept {
    Utf8Validator v;
    return v.feed(data, n) && v.complete();
}

}  // namespace herald::core
