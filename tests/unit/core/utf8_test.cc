#include "core/utf8.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace herald::core {
namespace {

const std::uint8_t* bytes_of(std::string_view s) {
    return reinterpret_cast<const std::uint8_t*>(s.data());
}

bool valid(std::string_view s) { return is_valid_utf8(bytes_of(s), s.size()); }

std::string show(std::string_view s) { return ::testing::PrintToString(std::string(s)); }

// An independent reference, written from RFC 3629's definition rather than its byte table:
// decode each sequence and, after every byte, ask whether the code points its bits still allow
// include a valid one (>= the sequence length's minimum, <= U+10FFFF, not a surrogate).
struct Verdict {
    std::size_t first_bad = std::string::npos;  // the byte that makes the prefix invalid
    bool complete = false;                      // valid and ends on a code point boundary
};

bool any_valid_code_point(std::uint32_t lo, std::uint32_t hi, std::size_t len) {
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    lo = std::max(lo, min);
    hi = std::min<std::uint32_t>(hi, 0x10FFFF);
    if (lo > hi) return false;
    return lo < 0xD800 || hi > 0xDFFF;  // [lo, hi] is not entirely surrogates
}

Verdict reference(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<std::uint8_t>(s[i]);
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (b < 0x80) {
            ++i;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            len = 2;
            cp = b & 0x1Fu;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3;
            cp = b & 0x0Fu;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4;
            cp = b & 0x07u;
        } else {
            return {i, false};  // a continuation byte or F8..FF where a sequence must start
        }
        for (std::size_t have = 1;; ++have) {
            const unsigned rest = static_cast<unsigned>(6 * (len - have));
            const std::uint32_t lo = cp << rest;
            if (!any_valid_code_point(lo, lo | ((1u << rest) - 1), len)) return {i + have - 1};
            if (have == len) break;
            if (i + have == s.size()) return {};  // cut off, but still a valid prefix
            const auto c = static_cast<std::uint8_t>(s[i + have]);
            if ((c & 0xC0) != 0x80) return {i + have};
            cp = (cp << 6) | (c & 0x3Fu);
        }
        i += len;
    }
    return {std::string::npos, true};
}

// Feeds `s` in pieces of the given sizes (cycled) and checks the validator against the
// reference after every piece: feed() returns false exactly at the piece holding the first bad
// byte, stays failed after it, and complete() agrees at the end.
void ExpectReferenceVerdict(std::string_view s, const std::vector<std::size_t>& pieces) {
    const Verdict ref = reference(s);
    Utf8Validator v;
    std::size_t at = 0;
    for (std::size_t k = 0; at < s.size(); ++k) {
        const std::size_t take = std::min(pieces[k % pieces.size()], s.size() - at);
        const bool before_bad = ref.first_bad == std::string::npos || at + take <= ref.first_bad;
        ASSERT_EQ(v.feed(bytes_of(s) + at, take), before_bad)
            << show(s) << " piece [" << at << ", " << at + take << ") first bad " << ref.first_bad;
        ASSERT_EQ(v.failed(), !before_bad) << show(s);
        at += take;
    }
    EXPECT_EQ(v.complete(), ref.complete) << show(s);
    EXPECT_EQ(valid(s), ref.complete) << show(s);
}

TEST(Utf8Reference, AgreesWithKnownVerdicts) {
    EXPECT_TRUE(reference("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80").complete);
    EXPECT_EQ(reference("ab\xE0\x80\x80").first_bad, 3u);
    EXPECT_EQ(reference("\xED\xA0\x80").first_bad, 1u);
    EXPECT_EQ(reference("\xF4\x90\x80\x80").first_bad, 1u);
    EXPECT_EQ(reference("\xF5").first_bad, 0u);
    EXPECT_EQ(reference("\xC2\x41").first_bad, 1u);
    const Verdict cut = reference("\xF0\x9F\x98");
    EXPECT_EQ(cut.first_bad, std::string::npos);
    EXPECT_FALSE(cut.complete);
}

struct Cases {
    const char* what;
    std::vector<std::string> inputs;
};

TEST(Utf8, AcceptsEveryWellFormedClassAtItsBounds) {
    const Cases kGood[] = {
        {"ascii", {"", "plain ascii", std::string("\x00\x7F", 2)}},
        {"2-byte", {"\xC2\x80", "\xDF\xBF"}},
        {"3-byte after E0", {"\xE0\xA0\x80", "\xE0\xBF\xBF"}},
        {"3-byte", {"\xE1\x80\x80", "\xEC\xBF\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF"}},
        {"3-byte after ED", {"\xED\x80\x80", "\xED\x9F\xBF"}},
        {"4-byte after F0", {"\xF0\x90\x80\x80", "\xF0\xBF\xBF\xBF"}},
        {"4-byte", {"\xF1\x80\x80\x80", "\xF3\xBF\xBF\xBF"}},
        {"4-byte after F4", {"\xF4\x80\x80\x80", "\xF4\x8F\xBF\xBF"}},
        {"mixed", {"h\xC3\xA9llo \xE2\x98\x83 \xF0\x9F\x98\x80"}},
    };
    for (const Cases& c : kGood) {
        for (const std::string& s : c.inputs) EXPECT_TRUE(valid(s)) << c.what << " " << show(s);
    }
}

TEST(Utf8, RejectsEveryInvalidClass) {
    const Cases kBad[] = {
        {"overlong 2-byte (C0, C1)", {"\xC0\x80", "\xC0\xAF", "\xC1\xBF"}},
        {"overlong 3-byte (E0 80..9F)", {"\xE0\x80\x80", "\xE0\x9F\xBF"}},
        {"overlong 4-byte (F0 80..8F)", {"\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF"}},
        {"surrogate (ED A0..BF)", {"\xED\xA0\x80", "\xED\xAD\xBF", "\xED\xBF\xBF"}},
        {"above U+10FFFF (F4 90..BF)", {"\xF4\x90\x80\x80", "\xF4\xBF\xBF\xBF"}},
        {"F5..FF",
         {"\xF5\x80\x80\x80", "\xF7\xBF\xBF\xBF", "\xF8\x88\x80\x80\x80", "\xFE", "\xFF"}},
        {"stray continuation", {"\x80", "\xBF", "a\x80", "\xC3\xA9\xA9"}},
        {"truncated", {"\xC2", "\xE2\x82", "\xF0\x9F\x98", "x\xF4"}},
        {"lead without continuation", {"\xC2\x41", "\xE2\x28\xA1", "\xF0\x9F\x28\x80"}},
    };
    for (const Cases& c : kBad) {
        for (const std::string& s : c.inputs) {
            EXPECT_FALSE(valid(s)) << c.what << " " << show(s);
            ExpectReferenceVerdict(s, {1});
        }
    }
}

TEST(Utf8, JudgesEveryTwoByteInputAndEveryLeadWithClassesOfFollowers) {
    for (int a = 0; a < 256; ++a) {
        for (int b = 0; b < 256; ++b) {
            const std::string s = {static_cast<char>(a), static_cast<char>(b)};
            ExpectReferenceVerdict(s, {1});
            ExpectReferenceVerdict(s, {2});
        }
    }
    // Four bytes: every lead, followers from each byte class and its bounds (fed one byte at a
    // time, so every shorter prefix is judged too).
    const int followers[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                             0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF};
    for (int lead = 0xC0; lead < 256; ++lead) {
        for (int x : followers) {
            for (int y : followers) {
                for (int z : followers) {
                    const std::string s = {static_cast<char>(lead), static_cast<char>(x),
                                           static_cast<char>(y), static_cast<char>(z)};
                    ExpectReferenceVerdict(s, {1});
                    ExpectReferenceVerdict(s, {4});
                }
            }
        }
    }
}

TEST(Utf8, ResumesAtEverySplitOfEveryMultiByteSequence) {
    for (const std::string seq : {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF",
                                  "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
        const std::string text = "a" + seq + "z";
        // Every way of cutting `text` into pieces: bit k of `cuts` cuts after byte k.
        for (unsigned cuts = 0; cuts < (1u << (text.size() - 1)); ++cuts) {
            Utf8Validator v;
            std::size_t start = 0;
            for (std::size_t end = 1; end <= text.size(); ++end) {
                if (end < text.size() && (cuts & (1u << (end - 1))) == 0) continue;
                ASSERT_TRUE(v.feed(bytes_of(text) + start, end - start)) << show(text) << cuts;
                // Inside the sequence: a valid prefix, neither complete nor failed.
                const bool inside = end > 1 && end < 1 + seq.size();
                EXPECT_EQ(v.complete(), !inside) << show(text) << " after " << end;
                EXPECT_FALSE(v.failed());
                start = end;
            }
            EXPECT_TRUE(v.complete()) << show(text) << " cuts " << cuts;
        }
    }
}

TEST(Utf8, FailsFastWhileTheSequenceIsStillIncomplete) {
    // Each prefix is already impossible: feed() says so without waiting for the missing bytes.
    for (const char* doomed : {"\xC0", "\xC1", "\xF5", "\xFF", "\xE0\x80", "\xE0\x9F", "\xED\xA0",
                               "\xED\xBF", "\xF0\x80", "\xF0\x8F", "\xF4\x90", "\xF4\xBF"}) {
        Utf8Validator v;
        const std::string_view s = doomed;
        EXPECT_FALSE(v.feed(bytes_of(s), s.size())) << show(s);
        EXPECT_TRUE(v.failed());
        EXPECT_FALSE(v.complete());
        // Also when the prefix arrives one byte after a valid chunk, and at the end of a long
        // non-ASCII chunk (the SIMD path, which stops at the last complete code point).
        Utf8Validator split;
        EXPECT_TRUE(split.feed(bytes_of("ok"), 2));
        EXPECT_FALSE(split.feed(bytes_of(s), s.size())) << show(s);
        std::string long_chunk;
        while (long_chunk.size() < 64) long_chunk += "caf\xC3\xA9 \xE2\x82\xAC ";
        long_chunk += s;
        Utf8Validator simd;
        EXPECT_FALSE(simd.feed(bytes_of(long_chunk), long_chunk.size())) << show(s);
    }
}

TEST(Utf8, StaysFailedUntilReset) {
    Utf8Validator v;
    const std::uint8_t first[] = {'o', 'k', 0xE2};
    const std::uint8_t second[] = {0x28};  // not a continuation
    EXPECT_TRUE(v.feed(first, sizeof first));
    EXPECT_FALSE(v.feed(second, sizeof second));
    const std::uint8_t more[] = {'a'};
    EXPECT_FALSE(v.feed(more, 1));
    EXPECT_FALSE(v.feed(more, 0));
    EXPECT_TRUE(v.failed());
    v.reset();
    EXPECT_TRUE(v.feed(more, 1));
    EXPECT_TRUE(v.complete());
}

TEST(Utf8, FindsABadByteAtEveryOffsetOfLongAsciiRuns) {
    for (std::size_t len : {41u, 64u, 100u}) {
        for (std::size_t at = 0; at <= 40; ++at) {
            for (const char* bad : {"\xFF", "\x80", "\xC0", "\xE2\x28", "\xF0\x9F\x98"}) {
                std::string s(len, 'x');
                s.replace(at, std::string_view(bad).size(), bad);
                ExpectReferenceVerdict(s, {s.size()});
                ExpectReferenceVerdict(s, {1});
                ExpectReferenceVerdict(s, {7});
                ExpectReferenceVerdict(s, {33});
            }
            std::string ok(len, 'x');
            ok.replace(at, 2, "\xC3\xA9");
            EXPECT_TRUE(valid(ok)) << at;
        }
    }
}

// Random text from pieces that are valid, invalid, or cut-off sequences, plus random bytes.
std::string random_text(std::mt19937& rng, std::size_t pieces_count) {
    static const std::vector<std::string> kPieces = {"a",
                                                     "0123456789abcdef",
                                                     "\xC3\xA9",
                                                     "\xE2\x82\xAC",
                                                     "\xF0\x9F\x98\x80",
                                                     "\xED\x9F\xBF",
                                                     "\xF4\x8F\xBF\xBF",
                                                     "\x80",
                                                     "\xC0",
                                                     "\xF8",
                                                     "\xED\xA0",
                                                     "\xE0\x80",
                                                     "\xF4\x90",
                                                     "\xC2",
                                                     "\xF0\x9F"};
    std::string s;
    for (std::size_t i = 0; i < pieces_count; ++i) {
        if (rng() % 6 == 0) {
            s.push_back(static_cast<char>(rng()));
        } else {
            s += kPieces[rng() % kPieces.size()];
        }
    }
    return s;
}

TEST(Utf8, MatchesTheReferenceOnRandomInputInRandomPieces) {
    std::mt19937 rng(3629);
    for (int round = 0; round < 20000; ++round) {
        const std::string s = random_text(rng, rng() % 40);
        std::vector<std::size_t> pieces;
        for (int k = 0; k < 8; ++k) pieces.push_back(1 + rng() % (round % 2 == 0 ? 5 : 70));
        ExpectReferenceVerdict(s, pieces);
        if (HasFatalFailure()) return;
    }
}

TEST(Utf8, MatchesTheReferenceOnLongMostlyValidText) {
    // Long chunks of non-ASCII text go through the SIMD path; one random byte may break them.
    std::mt19937 rng(6455);
    const std::vector<std::string> pieces = {"ascii text ", "\xC3\xA9", "\xE2\x82\xAC",
                                             "\xF0\x9F\x98\x80", "\xD0\xBF"};
    for (int round = 0; round < 2000; ++round) {
        std::string s;
        const std::size_t target = 32 + rng() % 3000;
        while (s.size() < target) s += pieces[rng() % pieces.size()];
        if (round % 2 == 1) s[rng() % s.size()] = static_cast<char>(rng());
        ExpectReferenceVerdict(s, {1 + rng() % 400, 1 + rng() % 400, 1 + rng() % 40});
        if (HasFatalFailure()) return;
    }
}

}  // namespace
}  // namespace herald::core
