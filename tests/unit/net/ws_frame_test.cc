#include "net/ws_frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace herald::net {
namespace {

constexpr std::uint8_t kMask[4] = {1, 2, 3, 4};

TEST(WsFrame, ClientHeaderRoundTripsForEveryLengthForm) {
    for (std::uint64_t len :
         {0ull, 1ull, 125ull, 126ull, 127ull, 65535ull, 65536ull, (1ull << 32) + 1}) {
        std::uint8_t buf[kMaxClientHeader];
        const std::size_t n = encode_client_header(buf, Opcode::kBinary, len, kMask, false, 0x4);
        FrameHeader h;
        ASSERT_EQ(parse_header(buf, n, h), HeaderStatus::kOk) << len;
        EXPECT_EQ(h.payload_size, len);
        EXPECT_EQ(h.header_size, n);
        EXPECT_EQ(h.opcode, 0x2);
        EXPECT_FALSE(h.fin);
        EXPECT_EQ(h.rsv, 0x4);
        EXPECT_TRUE(h.masked);
        EXPECT_EQ(std::memcmp(h.mask, kMask, 4), 0);
        EXPECT_EQ(n, 6u + (len < 126 ? 0u : len <= 65535 ? 2u : 8u)) << "shortest form";
        for (std::size_t prefix = 0; prefix < n; ++prefix) {
            EXPECT_EQ(parse_header(buf, prefix, h), HeaderStatus::kNeedMore)
                << len << "/" << prefix;
        }
    }
}

TEST(WsFrame, ServerHeaderRoundTripsUnmasked) {
    for (std::uint64_t len : {0ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 40}) {
        std::uint8_t buf[kMaxServerHeader];
        const std::size_t n = encode_header(buf, Opcode::kText, len);
        FrameHeader h;
        ASSERT_EQ(parse_header(buf, n, h), HeaderStatus::kOk);
        EXPECT_EQ(h.payload_size, len);
        EXPECT_TRUE(h.fin);
        EXPECT_FALSE(h.masked);
        EXPECT_EQ(h.opcode, 0x1);
    }
}

TEST(WsFrame, RejectsA64BitLengthWithTheTopBitSet) {
    const std::uint8_t buf[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    FrameHeader h;
    EXPECT_EQ(parse_header(buf, sizeof buf, h), HeaderStatus::kBadLength);
}

TEST(WsFrame, CloseCodesFollowRfc6455AndTheIanaRegistry) {
    for (int code = 0; code <= 5000; ++code) {
        const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                              (code >= 3000 && code <= 4999);
        EXPECT_EQ(is_valid_close_code(static_cast<std::uint16_t>(code)), expected) << code;
    }
}

TEST(WsFrame, MakeFrameHoldsExactlyHeaderAndPayload) {
    core::BlockPool pool;
    for (std::size_t size : {0u, 5u, 125u, 126u, 70000u}) {
        const std::string payload(size, 'p');
        core::Block* f = make_frame(pool, Opcode::kText,
                                    {reinterpret_cast<const std::uint8_t*>(payload.data()), size});
        FrameHeader h;
        ASSERT_EQ(parse_header(f->bytes(), f->size, h), HeaderStatus::kOk);
        EXPECT_EQ(f->size, h.header_size + size);
        EXPECT_EQ(std::memcmp(f->bytes() + h.header_size, payload.data(), size), 0);
        f->unref();
    }
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(WsFrame, CloseFrameCarriesCodeAndReasonTruncatedOnACodePointBoundary) {
    core::BlockPool pool;
    core::Block* f = make_close_frame(pool, 1001, "bye");
    EXPECT_EQ(std::string(reinterpret_cast<char*>(f->bytes()), f->size),
              std::string("\x88\x05\x03\xE9"
                          "bye",
                          7));
    f->unref();
    f = make_close_frame(pool, close_code::kNoStatus, "ignored");
    EXPECT_EQ(f->size, 2u);
    f->unref();
    std::string long_reason(121, 'x');
    long_reason += "\xE2\x82\xAC";  // bytes 121..123: the limit (123) falls inside it
    f = make_close_frame(pool, 1000, long_reason);
    FrameHeader h;
    ASSERT_EQ(parse_header(f->bytes(), f->size, h), HeaderStatus::kOk);
    EXPECT_EQ(h.payload_size, 2u + 121u);
    f->unref();
}

}  // namespace
}  // namespace herald::net
