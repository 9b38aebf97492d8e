#include "core/sha1.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::core {
namespace {

std::string hex(const Sha1::Digest& d) {
    static const char* k = "0123456789abcdef";
    std::string s;
    for (auto b : d) {
        s += k[b >> 4];
        s += k[b & 15];
    }
    return s;
}

std::string sha1_hex(std::string_view s) {
    Sha1 h;
    h.update(s);
    return hex(h.finish());
}

std::string b64(std::string_view s) {
    std::string out(4 * ((s.size() + 2) / 3), '\0');
    out.resize(
        base64_encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), out.data()));
    return out;
}

TEST(Sha1, MatchesTheRfc3174TestVectors) {
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    Sha1 million;
    const std::string chunk(1000, 'a');
    for (int i = 0; i < 1000; ++i) million.update(chunk);
    EXPECT_EQ(hex(million.finish()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, GivesTheSameDigestWhateverTheUpdateBoundaries) {
    const std::string text(300, 'x');
    const std::string whole = sha1_hex(text);
    for (std::size_t split = 0; split <= text.size(); split += 7) {
        Sha1 h;
        h.update(text.substr(0, split));
        h.update(text.substr(split));
        EXPECT_EQ(hex(h.finish()), whole) << split;
    }
}

TEST(Base64, MatchesTheRfc4648TestVectors) {
    EXPECT_EQ(b64(""), "");
    EXPECT_EQ(b64("f"), "Zg==");
    EXPECT_EQ(b64("fo"), "Zm8=");
    EXPECT_EQ(b64("foo"), "Zm9v");
    EXPECT_EQ(b64("foob"), "Zm9vYg==");
    EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
    EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
}

TEST(Sha1, GivesTheRfc6455AcceptKey) {
    Sha1 h;
    h.update("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    const Sha1::Digest d = h.finish();
    char out[28];
    ASSERT_EQ(base64_encode(d.data(), d.size(), out), 28u);
    EXPECT_EQ(std::string(out, 28), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

}  // namespace
}  // namespace herald::core
