#include "core/utf8.h"

#include <simdjson.h>

#include <array>
#include <cstring>

namespace herald::core {
namespace {

// A DFA over byte classes, built at compile time from RFC 3629's table of well-formed
// sequences. States: 0 accept; 1/2/3 expect that many continuation bytes (80..BF); 4 after E0
// (A0..BF next); 5 after ED (80..9F next: no surrogates); 6 after F0 (90..BF next: no
// overlongs); 7 after F4 (80..8F next: nothing above U+10FFFF); 8 reject.
enum Class : std::uint8_t {
    kAscii,    // 00..7F
    kCont8,    // 80..8F
    kCont9,    // 90..9F
    kContA,    // A0..BF
    kInvalid,  // C0..C1, F5..FF
    kLead2,    // C2..DF
    kLeadE0,   // E0
    kLead3,    // E1..EC, EE..EF
    kLeadED,   // ED
    kLeadF0,   // F0
    kLead4,    // F1..F3
    kLeadF4,   // F4
    kClasses,
};
constexpr std::uint8_t kStates = 9;
constexpr std::uint8_t kRej = Utf8Validator::kReject;

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> c{};
    for (int b = 0; b < 256; ++b) {
        std::uint8_t k = kInvalid;
        if (b <= 0x7F)
            k = kAscii;
        else if (b <= 0x8F)
            k = kCont8;
        else if (b <= 0x9F)
            k = kCont9;
        else if (b <= 0xBF)
            k = kContA;
        else if (b <= 0xC1)
            k = kInvalid;
        else if (b <= 0xDF)
            k = kLead2;
        else if (b == 0xE0)
            k = kLeadE0;
        else if (b == 0xED)
            k = kLeadED;
        else if (b <= 0xEF)
            k = kLead3;
        else if (b == 0xF0)
            k = kLeadF0;
        else if (b <= 0xF3)
            k = kLead4;
        else if (b == 0xF4)
            k = kLeadF4;
        c[static_cast<std::size_t>(b)] = k;
    }
    return c;
}

constexpr std::array<std::uint8_t, kStates * kClasses> make_transitions() {
    std::array<std::uint8_t, kStates * kClasses> t{};
    for (auto& x : t) x = kRej;
    auto set = [&](std::uint8_t state, std::uint8_t cls, std::uint8_t next) {
        t[std::size_t{state} * kClasses + cls] = next;
    };
    set(0, kAscii, 0);
    set(0, kLead2, 1);
    set(0, kLead3, 2);
    set(0, kLead4, 3);
    set(0, kLeadE0, 4);
    set(0, kLeadED, 5);
    set(0, kLeadF0, 6);
    set(0, kLeadF4, 7);
    for (std::uint8_t cont : {kCont8, kCont9, kContA}) {
        set(1, cont, 0);
        set(2, cont, 1);
        set(3, cont, 2);
    }
    set(4, kContA, 1);
    set(5, kCont8, 1);
    set(5, kCont9, 1);
    set(6, kCont9, 2);
    set(6, kContA, 2);
    set(7, kCont8, 2);
    return t;
}

constexpr std::array<std::uint8_t, 256> kClassOf = make_classes();
constexpr std::array<std::uint8_t, kStates* kClasses> kNext = make_transitions();
constexpr std::uint64_t kHighBits = 0x8080808080808080ull;
constexpr std::size_t kSimdMin = 32;  // below this, the DFA is as fast as a SIMD call

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
    std::uint8_t state = state_;
    std::size_t i = 0;
    while (i < n) {
        if (state == kAccept) {
            // ASCII runs, 16 then 8 bytes per step.
            while (i + 16 <= n) {
                std::uint64_t a;
                std::uint64_t b;
                std::memcpy(&a, data + i, 8);
                std::memcpy(&b, data + i + 8, 8);
                if (((a | b) & kHighBits) != 0) break;
                i += 16;
            }
            while (i + 8 <= n) {
                std::uint64_t a;
                std::memcpy(&a, data + i, 8);
                if ((a & kHighBits) != 0) break;
                i += 8;
            }
            if (i == n) break;
            // Non-ASCII text ahead: SIMD validation (simdjson) up to the last complete code
            // point; the DFA takes over for a sequence the chunk cuts off.
            if (n - i >= kSimdMin) {
                const std::size_t end = i + last_boundary(data + i, n - i);
                if (!simdjson::validate_utf8(reinterpret_cast<const char*>(data + i), end - i)) {
                    state = kRej;
                    break;
                }
                i = end;
                continue;
            }
        }
        // Bytes through the DFA until the next code point boundary.
        do {
            state = kNext[std::size_t{state} * kClasses + kClassOf[data[i]]];
            ++i;
        } while (state != kAccept && state != kRej && i < n);
        if (state == kRej) break;
    }
    state_ = state;
    return state != kRej;
}

bool is_valid_utf8(const std::uint8_t* data, std::size_t n) noexcept {
    Utf8Validator v;
    return v.feed(data, n) && v.complete();
}

}  // namespace herald::core
