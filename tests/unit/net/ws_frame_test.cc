#include "net/ws_frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/utf8.h"

namespace herald::net {
namespace {

constexpr std::uint8_t kMask[4] = {1, 2, 3, 4};
constexpr std::uint64_t kLengths[] = {0, 1, 125, 126, 127, 65535, 65536, (1ull << 32) + 1};

std::size_t length_field_size(std::uint64_t len) { return len < 126 ? 0 : len <= 65535 ? 2 : 8; }

std::string as_string(const core::Block* b) {
    return {reinterpret_cast<const char*>(b->bytes()), b->size};
}

TEST(WsFrame, ClientHeaderRoundTripsForEveryLengthForm) {
    for (const std::uint64_t len : kLengths) {
        std::uint8_t buf[kMaxClientHeader];
        const std::size_t n = encode_client_header(buf, Opcode::kBinary, len, kMask, false, 0x4);
        EXPECT_EQ(n, 6 + length_field_size(len)) << "shortest form for " << len;
        FrameHeader h;
        ASSERT_EQ(parse_header(buf, n, h), HeaderStatus::kOk) << len;
        EXPECT_EQ(h.payload_size, len);
        EXPECT_EQ(h.header_size, n);
        EXPECT_EQ(h.opcode, 0x2);
        EXPECT_FALSE(h.fin);
        EXPECT_EQ(h.rsv, 0x4);
        EXPECT_TRUE(h.masked);
        EXPECT_EQ(std::memcmp(h.mask, kMask, 4), 0);
    }
}

TEST(WsFrame, ServerHeaderRoundTripsForEveryLengthForm) {
    for (const std::uint64_t len : kLengths) {
        std::uint8_t buf[kMaxServerHeader];
        const std::size_t n = encode_header(buf, Opcode::kText, len);
        EXPECT_EQ(n, 2 + length_field_size(len)) << "shortest form for " << len;
        FrameHeader h;
        ASSERT_EQ(parse_header(buf, n, h), HeaderStatus::kOk) << len;
        EXPECT_EQ(h.payload_size, len);
        EXPECT_EQ(h.header_size, n);
        EXPECT_TRUE(h.fin);
        EXPECT_EQ(h.rsv, 0);
        EXPECT_FALSE(h.masked);
        EXPECT_EQ(h.opcode, 0x1);
    }
}

TEST(WsFrame, NeedsMoreAtEveryPrefixOfAHeader) {
    for (const std::uint64_t len : kLengths) {
        std::uint8_t client[kMaxClientHeader];
        std::uint8_t server[kMaxServerHeader];
        const std::size_t nc = encode_client_header(client, Opcode::kText, len, kMask);
        const std::size_t ns = encode_header(server, Opcode::kText, len);
        FrameHeader h;
        for (std::size_t prefix = 0; prefix < nc; ++prefix) {
            EXPECT_EQ(parse_header(client, prefix, h), HeaderStatus::kNeedMore)
                << len << "/" << prefix;
        }
        for (std::size_t prefix = 0; prefix < ns; ++prefix) {
            EXPECT_EQ(parse_header(server, prefix, h), HeaderStatus::kNeedMore)
                << len << "/" << prefix;
        }
    }
}

TEST(WsFrame, CarriesEveryOpcodeAndFlagCombination) {
    for (unsigned op = 0; op < 16; ++op) {
        for (std::uint8_t rsv = 0; rsv < 8; ++rsv) {
            for (const bool fin : {false, true}) {
                std::uint8_t buf[kMaxClientHeader];
                const std::size_t n =
                    encode_client_header(buf, static_cast<Opcode>(op), 3, kMask, fin, rsv);
                FrameHeader h;
                ASSERT_EQ(parse_header(buf, n, h), HeaderStatus::kOk);
                EXPECT_EQ(h.opcode, op);
                EXPECT_EQ(h.rsv, rsv);
                EXPECT_EQ(h.fin, fin);
            }
        }
    }
}

TEST(WsFrame, RejectsA64BitLengthWithTheTopBitSet) {
    std::uint8_t masked[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    std::uint8_t unmasked[] = {0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    FrameHeader h;
    EXPECT_EQ(parse_header(masked, sizeof masked, h), HeaderStatus::kBadLength);
    EXPECT_EQ(parse_header(unmasked, sizeof unmasked, h), HeaderStatus::kBadLength);
    EXPECT_EQ(parse_header(masked, sizeof masked - 1, h), HeaderStatus::kNeedMore);
    // The largest legal length is 2^63 - 1.
    unmasked[2] = 0x7F;
    ASSERT_EQ(parse_header(unmasked, sizeof unmasked, h), HeaderStatus::kOk);
    EXPECT_EQ(h.payload_size, (1ull << 63) - 1);
}

TEST(WsFrame, CloseCodesFollowRfc6455AndTheIanaRegistry) {
    for (int code = 0; code <= 5000; ++code) {
        const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                              (code >= 3000 && code <= 4999);
        EXPECT_EQ(is_valid_close_code(static_cast<std::uint16_t>(code)), expected) << code;
    }
    EXPECT_FALSE(is_valid_close_code(65535));
}

TEST(WsFrame, MakeFrameHoldsExactlyHeaderAndPayload) {
    core::BlockPool pool;
    for (const std::size_t size : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
        std::string payload(size, '\0');
        for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 7);
        core::Block* f = make_frame(pool, Opcode::kBinary,
                                    {reinterpret_cast<const std::uint8_t*>(payload.data()), size});
        std::uint8_t header[kMaxServerHeader];
        const std::size_t h = encode_header(header, Opcode::kBinary, size);
        EXPECT_EQ(f->begin, kMaxServerHeader - h) << "the payload starts at kMaxServerHeader";
        EXPECT_EQ(f->size, h + size);
        EXPECT_EQ(as_string(f), std::string(reinterpret_cast<char*>(header), h) + payload);
        f->unref();
    }
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(WsFrame, ReservedFrameIsFinishedAroundAPayloadWrittenInPlace) {
    core::BlockPool pool;
    core::Block* f = reserve_frame(pool, 300);
    std::memset(f->data() + kMaxServerHeader, 'r', 300);
    finish_frame(f, Opcode::kText, 300);
    EXPECT_EQ(as_string(f), std::string("\x81\x7E\x01\x2C", 4) + std::string(300, 'r'));
    f->unref();
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(WsFrame, CloseFrameCarriesCodeAndReason) {
    core::BlockPool pool;
    core::Block* f = make_close_frame(pool, 1001, "bye");
    EXPECT_EQ(as_string(f), std::string("\x88\x05\x03\xE9"
                                        "bye",
                                        7));
    EXPECT_EQ(f->begin, kMaxServerHeader - 2);
    f->unref();
    f = make_close_frame(pool, 4999, "");
    EXPECT_EQ(as_string(f), std::string("\x88\x02\x13\x87", 4));
    f->unref();
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(WsFrame, NoStatusMakesAnEmptyCloseFrame) {
    core::BlockPool pool;
    core::Block* f = make_close_frame(pool, close_code::kNoStatus, "ignored");
    EXPECT_EQ(as_string(f), std::string("\x88\x00", 2));
    f->unref();
}

TEST(WsFrame, CloseReasonIsCutTo123BytesOnACodePointBoundary) {
    struct Case {
        std::string reason;
        std::size_t kept;
    };
    const std::string x120(120, 'x');
    const Case cases[] = {
        {std::string(123, 'x'), 123},
        {std::string(124, 'x'), 123},
        {std::string(500, 'x'), 123},
        {x120 + "xx\xC3\xA9", 122},        // 2-byte sequence at 122..123
        {x120 + "x\xC3\xA9", 123},         // 2-byte sequence ends at the limit
        {x120 + "x\xE2\x82\xAC", 121},     // 3-byte sequence at 121..123
        {x120 + "\xF0\x9F\x98\x80", 120},  // 4-byte sequence at 120..123
        {x120 + "\xF0\x9F\x98\x80" + "tail", 120},
        {std::string(82, 'y') + "\xE2\x82\xAC\xE2\x82\xAC", 88},  // short: kept whole
    };
    core::BlockPool pool;
    for (const Case& c : cases) {
        core::Block* f = make_close_frame(pool, 1000, c.reason);
        FrameHeader h;
        ASSERT_EQ(parse_header(f->bytes(), f->size, h), HeaderStatus::kOk);
        EXPECT_EQ(h.payload_size, 2 + c.kept) << c.reason.size();
        EXPECT_EQ(as_string(f), std::string("\x88", 1) + static_cast<char>(2 + c.kept) +
                                    "\x03\xE8" + c.reason.substr(0, c.kept));
        EXPECT_TRUE(core::is_valid_utf8(f->bytes() + 4, f->size - 4u));
        f->unref();
    }
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

}  // namespace
}  // namespace herald::net
