#include "net/ws_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/unmask.h"

namespace herald::net {
namespace {

constexpr std::uint8_t kKey[4] = {0xA1, 0x0B, 0x5C, 0x77};

// A masked client frame.
std::string frame(std::uint8_t first, std::string_view payload, bool masked = true) {
    std::uint8_t head[kMaxClientHeader];
    std::size_t n =
        encode_client_header(head, static_cast<Opcode>(first & 0x0F), payload.size(), kKey,
                             (first & 0x80) != 0, static_cast<std::uint8_t>((first >> 4) & 0x7));
    std::string body(payload);
    if (masked) {
        core::unmask(reinterpret_cast<std::uint8_t*>(body.data()), body.size(), kKey);
    } else {
        head[1] &= 0x7F;
        n -= 4;
    }
    return std::string(reinterpret_cast<char*>(head), n) + body;
}

struct Event {
    std::string kind;  // "text", "binary", "ping", "close"
    std::string payload;
    std::uint16_t code = 0;
    bool operator==(const Event&) const = default;
};

struct Recorder {
    std::vector<Event> events;
    bool stop_after_message = false;
    unsigned padding_checksum = 0;  // keeps the padding reads from being optimised away
    bool on_message(Opcode op, std::span<const std::uint8_t> p) {
        // The padding promise: 64 readable bytes after the payload (ASan checks it).
        std::uint8_t sink = 0;
        for (std::size_t i = 0; i < core::Block::kPadding; ++i) sink ^= p.data()[p.size() + i];
        padding_checksum += sink;
        events.push_back({op == Opcode::kText ? "text" : "binary",
                          std::string(reinterpret_cast<const char*>(p.data()), p.size())});
        return !stop_after_message;
    }
    bool on_ping(std::span<const std::uint8_t> p) {
        events.push_back({"ping", std::string(reinterpret_cast<const char*>(p.data()), p.size())});
        return true;
    }
    void on_close(std::uint16_t code, std::string_view reason) {
        events.push_back({"close", std::string(reason), code});
    }
};

struct Outcome {
    std::vector<Event> events;
    ReadStatus status = ReadStatus::kOk;
    std::uint16_t code = 0;
};

// Feeds `wire` in pieces of the given sizes (the rest in one piece), each copied into a buffer
// with padding, as the server's receive buffers are.
Outcome feed(const std::string& wire, const std::vector<std::size_t>& pieces,
             std::uint64_t max_message = 1 << 20) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    Outcome out;
    WsLimits limits{max_message};
    std::size_t at = 0;
    std::size_t k = 0;
    while (at < wire.size() && out.status == ReadStatus::kOk) {
        const std::size_t take =
            k < pieces.size() ? std::min(pieces[k++], wire.size() - at) : wire.size() - at;
        std::vector<std::uint8_t> buf(take + core::Block::kPadding);
        std::memcpy(buf.data(), wire.data() + at, take);
        const ReadResult r = reader.consume(buf.data(), take, rec, pool, limits);
        out.status = r.status;
        out.code = r.close_code;
        at += take;
    }
    reader.release();
    EXPECT_EQ(pool.stats().live_blocks, 0u);
    out.events = rec.events;
    return out;
}

Outcome whole(const std::string& wire, std::uint64_t max = 1 << 20) { return feed(wire, {}, max); }

// Every split in two, and one byte at a time, give the same outcome as the whole.
void ExpectSameOutcomeAtEverySplit(const std::string& wire) {
    const Outcome ref = whole(wire);
    for (std::size_t split = 1; split < wire.size(); ++split) {
        const Outcome o = feed(wire, {split});
        ASSERT_EQ(o.events, ref.events) << "split at " << split;
        ASSERT_EQ(o.status, ref.status) << "split at " << split;
        ASSERT_EQ(o.code, ref.code) << "split at " << split;
    }
    const Outcome bytes = feed(wire, std::vector<std::size_t>(wire.size(), 1));
    EXPECT_EQ(bytes.events, ref.events);
    EXPECT_EQ(bytes.status, ref.status);
}

std::uint16_t failure_code(const std::string& wire, std::uint64_t max = 1 << 20) {
    const Outcome o = whole(wire, max);
    return o.status == ReadStatus::kFailed ? o.code : 0;
}

TEST(WsReader, DeliversATextMessage) {
    const Outcome o = whole(frame(0x81, "hello"));
    EXPECT_EQ(o.status, ReadStatus::kOk);
    EXPECT_EQ(o.events, (std::vector<Event>{{"text", "hello"}}));
}

TEST(WsReader, DeliversTheSameWhateverTheReadBoundaries) {
    ExpectSameOutcomeAtEverySplit(frame(0x81, "one") + frame(0x89, "p") + frame(0x82, "\x01\x02") +
                                  frame(0x81, std::string(300, 'x')) + frame(0x81, ""));
    ExpectSameOutcomeAtEverySplit(frame(0x01, "fr") + frame(0x89, "mid") + frame(0x00, "ag") +
                                  frame(0x80, "ment") +
                                  frame(0x88,
                                        "\x03\xE8"
                                        "done"));
    ExpectSameOutcomeAtEverySplit(frame(0x81, "\xE2\x82\xAC ok") + frame(0x81, "\xE2\x28 bad"));
}

TEST(WsReader, AssemblesFragmentsWithControlFramesBetweenThem) {
    const Outcome o = whole(frame(0x01, "Hel") + frame(0x89, "ping!") + frame(0x00, "lo ") +
                            frame(0x8A, "unsolicited pong") + frame(0x80, "world"));
    EXPECT_EQ(o.events, (std::vector<Event>{{"ping", "ping!"}, {"text", "Hello world"}}));
}

TEST(WsReader, DeliversALargeMessageArrivingInManyReads) {
    std::string big(1 << 20, 'b');
    for (std::size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
    const std::string wire = frame(0x81, big.substr(0, 300000)) +
                             frame(0x01, big.substr(0, 500000)) +
                             frame(0x80, big.substr(500000, 100000));
    const Outcome o = feed(wire, std::vector<std::size_t>(wire.size() / 16384 + 1, 16384));
    ASSERT_EQ(o.events.size(), 2u);
    EXPECT_EQ(o.events[0].payload, big.substr(0, 300000));
    EXPECT_EQ(o.events[1].payload, big.substr(0, 600000));
}

TEST(WsReader, FailsUnmaskedFrameWith1002) {
    EXPECT_EQ(failure_code(frame(0x81, "x", false)), 1002);
}

TEST(WsReader, FailsRsvBitsWith1002) {
    for (int rsv : {0x40, 0x20, 0x10}) {
        EXPECT_EQ(failure_code(frame(static_cast<std::uint8_t>(0x81 | rsv), "x")), 1002);
    }
}

TEST(WsReader, FailsUnknownOpcodesWith1002) {
    for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        EXPECT_EQ(failure_code(frame(static_cast<std::uint8_t>(0x80 | op), "x")), 1002) << int(op);
    }
}

TEST(WsReader, FailsOversizedOrFragmentedControlFramesWith1002) {
    EXPECT_EQ(failure_code(frame(0x89, std::string(126, 'p'))), 1002);
    EXPECT_EQ(failure_code(frame(0x09, "p")), 1002);
    EXPECT_EQ(failure_code(frame(0x08, "")), 1002);
    EXPECT_EQ(whole(frame(0x89, std::string(125, 'p'))).status, ReadStatus::kOk);
}

TEST(WsReader, FailsContinuationWithoutStartWith1002) {
    EXPECT_EQ(failure_code(frame(0x80, "x")), 1002);
    EXPECT_EQ(failure_code(frame(0x81, "done") + frame(0x00, "x")), 1002);
}

TEST(WsReader, FailsNewDataFrameInsideAFragmentedMessageWith1002) {
    EXPECT_EQ(failure_code(frame(0x01, "a") + frame(0x81, "b")), 1002);
    EXPECT_EQ(failure_code(frame(0x01, "a") + frame(0x02, "b")), 1002);
}

TEST(WsReader, FailsTopBitLengthWith1002) {
    std::string wire("\x81\xFF\x80\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", 14);
    EXPECT_EQ(failure_code(wire), 1002);
}

TEST(WsReader, FailsBadCloseFramesWithTheirCodes) {
    EXPECT_EQ(failure_code(frame(0x88, "\x03")), 1002) << "1-byte body";
    for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
        const std::string body = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
        EXPECT_EQ(failure_code(frame(0x88, body)), 1002) << code;
    }
    EXPECT_EQ(failure_code(frame(0x88, "\x03\xE8\xFF")), 1007) << "reason not UTF-8";
}

TEST(WsReader, ReportsAValidCloseAndIgnoresWhatFollows) {
    const Outcome o = whole(frame(0x88,
                                  "\x0F\xA0"
                                  "r\xC3\xA9"
                                  "ason") +
                            frame(0x81, "after"));
    EXPECT_EQ(o.status, ReadStatus::kClosed);
    EXPECT_EQ(o.events, (std::vector<Event>{{"close",
                                             "r\xC3\xA9"
                                             "ason",
                                             4000}}));
    const Outcome empty = whole(frame(0x88, ""));
    EXPECT_EQ(empty.events, (std::vector<Event>{{"close", "", close_code::kNoStatus}}));
}

TEST(WsReader, FailsInvalidUtf8TextWith1007) {
    EXPECT_EQ(failure_code(frame(0x81, "\xC0\xAF")), 1007);
    EXPECT_EQ(failure_code(frame(0x81, "\xED\xA0\x80")), 1007);
    EXPECT_EQ(failure_code(frame(0x81, "ok\xF4\x90\x80\x80")), 1007);
    EXPECT_EQ(failure_code(frame(0x81, "ends inside \xE2\x82")), 1007);
    EXPECT_EQ(failure_code(frame(0x01, "\xE2") + frame(0x00, "\x82") + frame(0x80, "\xAC")), 0)
        << "a code point split over three fragments is fine";
    EXPECT_EQ(failure_code(frame(0x01, "\xE2") + frame(0x80, "\x82")), 1007);
    EXPECT_EQ(failure_code(frame(0x82, "\xFF\xFE")), 0) << "binary is not validated";
}

TEST(WsReader, FailsInvalidUtf8BeforeTheFrameIsComplete) {
    const std::string wire =
        frame(0x81, "valid start \xFF then much more that has not arrived yet");
    // Only the first 20 bytes arrive: the bad byte is among them.
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    std::vector<std::uint8_t> buf(20 + core::Block::kPadding);
    std::memcpy(buf.data(), wire.data(), 20);
    const ReadResult r = reader.consume(buf.data(), 20, rec, pool, WsLimits{});
    EXPECT_EQ(r.status, ReadStatus::kFailed);
    EXPECT_EQ(r.close_code, 1007);
    reader.release();
}

TEST(WsReader, FailsMessagesOverTheLimitWith1009AtTheHeader) {
    EXPECT_EQ(failure_code(frame(0x81, std::string(101, 'x')), 100), 1009);
    EXPECT_EQ(failure_code(frame(0x81, std::string(100, 'x')), 100), 0) << "exactly the limit";
    EXPECT_EQ(
        failure_code(frame(0x01, std::string(60, 'x')) + frame(0x80, std::string(41, 'x')), 100),
        1009);
    EXPECT_EQ(
        failure_code(frame(0x01, std::string(60, 'x')) + frame(0x80, std::string(40, 'x')), 100),
        0);
    // Decided from the header alone: a 1 GB declaration fails with nothing else sent.
    std::uint8_t head[kMaxClientHeader];
    const std::size_t n = encode_client_header(head, Opcode::kText, 1u << 30, kKey);
    EXPECT_EQ(failure_code(std::string(reinterpret_cast<char*>(head), n)), 1009);
}

TEST(WsReader, HoldsOnlyWhatArrivedOfAHugeDeclaredFrame) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    std::uint8_t head[kMaxClientHeader + 10 + core::Block::kPadding] = {};
    const std::size_t n = encode_client_header(head, Opcode::kBinary, 1000000, kKey);
    const ReadResult r = reader.consume(head, n + 10, rec, pool, WsLimits{2000000});
    EXPECT_EQ(r.status, ReadStatus::kOk);
    EXPECT_FALSE(reader.idle());
    EXPECT_EQ(pool.stats().live_blocks, 1u);
    EXPECT_LT(pool.stats().cached_bytes + 8192, 1000000u);  // nothing near a megabyte
    reader.release();
    EXPECT_TRUE(reader.idle());
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(WsReader, StopsWhereTheHandlerSaysAndReportsHowFarItGot) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    rec.stop_after_message = true;
    const std::string first = frame(0x81, "first");
    std::string wire = first + frame(0x81, "second");
    std::vector<std::uint8_t> buf(wire.begin(), wire.end());
    buf.resize(wire.size() + core::Block::kPadding);
    const ReadResult r = reader.consume(buf.data(), wire.size(), rec, pool, WsLimits{});
    EXPECT_EQ(r.status, ReadStatus::kStopped);
    EXPECT_EQ(r.consumed, first.size());
    EXPECT_EQ(rec.events.size(), 1u);
    reader.release();
}

TEST(WsReader, StaysFailedAfterAViolation) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    std::string bad = frame(0x83, "x");
    std::vector<std::uint8_t> buf(bad.begin(), bad.end());
    buf.resize(bad.size() + core::Block::kPadding);
    EXPECT_EQ(reader.consume(buf.data(), bad.size(), rec, pool, WsLimits{}).status,
              ReadStatus::kFailed);
    std::string good = frame(0x81, "ignored");
    std::vector<std::uint8_t> buf2(good.begin(), good.end());
    buf2.resize(good.size() + core::Block::kPadding);
    const ReadResult again = reader.consume(buf2.data(), good.size(), rec, pool, WsLimits{});
    EXPECT_EQ(again.status, ReadStatus::kFailed);
    EXPECT_EQ(again.close_code, 1002);
    EXPECT_TRUE(rec.events.empty());
    reader.release();
}

}  // namespace
}  // namespace herald::net
