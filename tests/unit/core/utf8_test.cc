#include "core/utf8.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace herald::core {
namespace {

bool valid(std::string_view s) {
    return is_valid_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// An independent reference: decode code points by the RFC 3629 rules, byte by byte.
bool reference_valid(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (b < 0x80) {
            ++i;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            len = 2;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

TEST(Utf8, AcceptsEveryWellFormedClass) {
    EXPECT_TRUE(valid(""));
    EXPECT_TRUE(valid("plain ascii"));
    EXPECT_TRUE(valid("\xC2\x80"));          // U+0080
    EXPECT_TRUE(valid("\xDF\xBF"));          // U+07FF
    EXPECT_TRUE(valid("\xE0\xA0\x80"));      // U+0800
    EXPECT_TRUE(valid("\xED\x9F\xBF"));      // U+D7FF
    EXPECT_TRUE(valid("\xEE\x80\x80"));      // U+E000
    EXPECT_TRUE(valid("\xEF\xBF\xBF"));      // U+FFFF
    EXPECT_TRUE(valid("\xF0\x90\x80\x80"));  // U+10000
    EXPECT_TRUE(valid("\xF4\x8F\xBF\xBF"));  // U+10FFFF
    EXPECT_TRUE(valid("h\xC3\xA9llo \xE2\x98\x83 \xF0\x9F\x98\x80"));
}

TEST(Utf8, RejectsOverlongsSurrogatesOutOfRangeAndStrayBytes) {
    for (const char* bad : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF",
                            "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
                            "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\xFE", "\x80", "\xBF",
                            "a\x80", "\xC2", "\xE2\x82", "\xF0\x9F\x98", "\xC2\x41"}) {
        EXPECT_FALSE(valid(bad)) << "case " << ::testing::PrintToString(std::string(bad));
    }
}

TEST(Utf8, ResumesAcrossEverySplitPoint) {
    const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
    for (std::size_t split = 0; split <= text.size(); ++split) {
        Utf8Validator v;
        const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
        ASSERT_TRUE(v.feed(p, split)) << split;
        ASSERT_TRUE(v.feed(p + split, text.size() - split)) << split;
        EXPECT_TRUE(v.complete()) << split;
    }
}

TEST(Utf8, IncompleteAtTheEndIsNotComplete) {
    Utf8Validator v;
    const std::uint8_t part[] = {'a', 0xF0, 0x9F};
    EXPECT_TRUE(v.feed(part, sizeof part));
    EXPECT_FALSE(v.complete());
    EXPECT_FALSE(v.failed());
}

TEST(Utf8, FailsFastOnTheChunkWithTheFirstBadByte) {
    Utf8Validator v;
    const std::uint8_t first[] = {'o', 'k', 0xE2};
    const std::uint8_t second[] = {0x28};  // not a continuation
    EXPECT_TRUE(v.feed(first, sizeof first));
    EXPECT_FALSE(v.feed(second, sizeof second));
    EXPECT_TRUE(v.failed());
    const std::uint8_t more[] = {'a'};
    EXPECT_FALSE(v.feed(more, 1)) << "stays failed";
    v.reset();
    EXPECT_TRUE(v.feed(more, 1));
}

TEST(Utf8, FindsABadByteAtEveryOffsetOfAnAsciiRun) {
    for (std::size_t at = 0; at < 41; ++at) {
        std::string s(41, 'x');
        s[at] = '\xFF';
        EXPECT_FALSE(valid(s)) << at;
        s[at] = '\xC3';
        if (at + 1 < s.size()) {
            s[at + 1] = '\xA9';
            EXPECT_TRUE(valid(s)) << at;
        }
    }
}

TEST(Utf8, MatchesAnIndependentReferenceOnRandomInput) {
    std::mt19937 rng(3629);
    const std::vector<std::string> pieces = {
        "a",    "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xED\x9F\xBF",
        "\x80", "\xC0",     "\xF8",         "\xED\xA0"};
    for (int round = 0; round < 20000; ++round) {
        std::string s;
        const int n = static_cast<int>(rng() % 24);
        for (int i = 0; i < n; ++i) {
            if (rng() % 4 == 0) {
                s.push_back(static_cast<char>(rng()));
            } else {
                s += pieces[rng() % pieces.size()];
            }
        }
        const bool expected = reference_valid(s);
        ASSERT_EQ(valid(s), expected) << ::testing::PrintToString(s);
        // The same verdict when fed in random pieces.
        Utf8Validator v;
        std::size_t at = 0;
        bool ok = true;
        while (at < s.size() && ok) {
            const std::size_t take = std::min<std::size_t>(1 + rng() % 5, s.size() - at);
            ok = v.feed(reinterpret_cast<const std::uint8_t*>(s.data()) + at, take);
            at += take;
        }
        ASSERT_EQ(ok && v.complete(), expected) << ::testing::PrintToString(s);
    }
}

TEST(Utf8, LongTextInLargeChunksTakesTheSimdPathWithTheSameVerdicts) {
    std::mt19937 rng(6455);
    const std::vector<std::string> pieces = {"ascii text ", "\xC3\xA9", "\xE2\x82\xAC",
                                             "\xF0\x9F\x98\x80", "\xD0\xBF"};
    for (int round = 0; round < 2000; ++round) {
        std::string s;
        const std::size_t target = 32 + rng() % 3000;
        while (s.size() < target) s += pieces[rng() % pieces.size()];
        if (round % 2 == 1) s[rng() % s.size()] = static_cast<char>(rng());  // maybe break it
        const bool expected = reference_valid(s);
        ASSERT_EQ(valid(s), expected) << round;
        Utf8Validator v;
        std::size_t at = 0;
        bool ok = true;
        while (at < s.size() && ok) {
            const std::size_t take = std::min<std::size_t>(1 + rng() % 400, s.size() - at);
            ok = v.feed(reinterpret_cast<const std::uint8_t*>(s.data()) + at, take);
            at += take;
        }
        ASSERT_EQ(ok && v.complete(), expected) << round;
    }
}

}  // namespace
}  // namespace herald::core
