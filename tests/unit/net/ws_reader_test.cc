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
constexpr std::uint64_t kDefaultMax = 1 << 20;

// A client frame: `first` is the first header byte (FIN, RSV, opcode), the payload is masked
// unless `masked` is false.
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

// Just the header of a masked frame declaring `size` payload bytes.
std::string header(std::uint8_t first, std::uint64_t size) {
    std::uint8_t head[kMaxClientHeader];
    const std::size_t n = encode_client_header(head, static_cast<Opcode>(first & 0x0F), size, kKey,
                                               (first & 0x80) != 0);
    return std::string(reinterpret_cast<char*>(head), n);
}

std::string close_body(int code, std::string_view reason = "") {
    return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)} +
           std::string(reason);
}

// `bytes` in a buffer followed by kPadding more, as consume() requires.
std::vector<std::uint8_t> padded(std::string_view bytes) {
    std::vector<std::uint8_t> buf(bytes.size() + core::Block::kPadding);
    std::memcpy(buf.data(), bytes.data(), bytes.size());
    return buf;
}

struct Event {
    std::string kind;  // "text", "binary", "ping", "close"
    std::string payload;
    std::uint16_t code = 0;
    bool operator==(const Event&) const = default;
};
using Events = std::vector<Event>;

std::string text_of(std::span<const std::uint8_t> p) {
    return {reinterpret_cast<const char*>(p.data()), p.size()};
}

struct Recorder {
    Events events;
    std::size_t stop_at = 0;  // return false for this event (1-based; 0: never)
    // The input buffer of the current consume() call, to tell in-place deliveries.
    const std::uint8_t* input = nullptr;
    std::size_t input_size = 0;
    std::size_t in_place = 0;
    unsigned padding_checksum = 0;  // keeps the padding reads from being optimised away

    bool on_message(Opcode op, std::span<const std::uint8_t> p) {
        // The padding promise: kPadding readable bytes after the payload. The test buffers end
        // exactly there, so ASan reports a reader that breaks it.
        std::uint8_t sink = 0;
        for (std::size_t i = 0; i < core::Block::kPadding; ++i) sink ^= p.data()[p.size() + i];
        padding_checksum += sink;
        if (p.data() >= input && p.data() + p.size() <= input + input_size) ++in_place;
        return record({op == Opcode::kText ? "text" : "binary", text_of(p)});
    }
    bool on_ping(std::span<const std::uint8_t> p) { return record({"ping", text_of(p)}); }
    void on_close(std::uint16_t code, std::string_view reason) {
        record({"close", std::string(reason), code});
    }
    bool record(Event e) {
        events.push_back(std::move(e));
        return events.size() != stop_at;
    }
};

struct Outcome {
    Events events;
    ReadStatus status = ReadStatus::kOk;  // of the last read
    std::uint16_t code = 0;               // kFailed: the close code
    std::vector<ReadStatus> reads;        // the status of every consume() call
    std::size_t stops = 0;
    std::size_t in_place = 0;
};

// Feeds `wire` to a fresh reader in reads of the given sizes (cycled; {} means one read), each
// copied into a buffer with exactly kPadding bytes after it, as the server's receive buffers
// are. After kStopped it resumes with the rest of the same read. Checks that release() leaves
// no block behind.
Outcome feed(const std::string& wire, const std::vector<std::size_t>& pieces = {},
             std::uint64_t max_message = kDefaultMax, std::size_t stop_at = 0) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    rec.stop_at = stop_at;
    Outcome out;
    const WsLimits limits{max_message};
    std::size_t at = 0;
    for (std::size_t k = 0; at < wire.size(); ++k) {
        const std::size_t want = pieces.empty() ? wire.size() : pieces[k % pieces.size()];
        const std::size_t take = std::min(want, wire.size() - at);
        std::vector<std::uint8_t> buf = padded(std::string_view(wire).substr(at, take));
        std::size_t done = 0;
        ReadResult r;
        do {
            rec.input = buf.data() + done;
            rec.input_size = take - done;
            r = reader.consume(buf.data() + done, take - done, rec, pool, limits);
            out.reads.push_back(r.status);
            EXPECT_LE(r.consumed, take - done);
            done += r.consumed;
            if (r.status == ReadStatus::kStopped) ++out.stops;
        } while (r.status == ReadStatus::kStopped);
        out.status = r.status;
        out.code = r.close_code;
        at += take;
        if (r.status == ReadStatus::kFailed || r.status == ReadStatus::kClosed) break;
    }
    reader.release();
    EXPECT_TRUE(reader.idle());
    EXPECT_EQ(pool.stats().live_blocks, 0u);
    out.events = rec.events;
    out.in_place = rec.in_place;
    return out;
}

std::uint16_t failure_code(const std::string& wire, std::uint64_t max = kDefaultMax) {
    const Outcome o = feed(wire, {}, max);
    return o.status == ReadStatus::kFailed ? o.code : 0;
}

// Whole, one byte at a time, split in two at every point, and in random reads: the same
// events, final status and close code every time.
void ExpectSameOutcomeHoweverSplit(const std::string& wire, std::uint64_t max = kDefaultMax) {
    const Outcome ref = feed(wire, {}, max);
    const auto same = [&](const Outcome& o, const std::string& how) {
        ASSERT_EQ(o.events, ref.events) << how;
        ASSERT_EQ(o.status, ref.status) << how;
        ASSERT_EQ(o.code, ref.code) << how;
    };
    same(feed(wire, {1}, max), "one byte at a time");
    for (std::size_t split = 1; split < wire.size(); ++split) {
        same(feed(wire, {split, wire.size()}, max), "split at " + std::to_string(split));
    }
    std::mt19937 rng(static_cast<std::uint32_t>(wire.size()));
    for (int round = 0; round < 50; ++round) {
        std::vector<std::size_t> pieces(16);
        for (auto& p : pieces) p = 1 + rng() % 40;
        same(feed(wire, pieces, max), "random reads, round " + std::to_string(round));
    }
}

// ---- Delivery -------------------------------------------------------------------------------

TEST(WsReader, DeliversATextMessageInPlace) {
    const Outcome o = feed(frame(0x81, "hello"));
    EXPECT_EQ(o.status, ReadStatus::kOk);
    EXPECT_EQ(o.events, (Events{{"text", "hello"}}));
    EXPECT_EQ(o.in_place, 1u) << "a frame that arrives whole is delivered from the input";
}

TEST(WsReader, DeliversTheSameEventsWhateverTheReadBoundaries) {
    ExpectSameOutcomeHoweverSplit(frame(0x81, "one") + frame(0x89, "p") + frame(0x82, "\x01\x02") +
                                  frame(0x81, std::string(300, 'x')) + frame(0x81, ""));
    ExpectSameOutcomeHoweverSplit(frame(0x01, "fr") + frame(0x89, "mid") + frame(0x00, "ag") +
                                  frame(0x80, "ment") + frame(0x88, close_body(1000, "done")));
    ExpectSameOutcomeHoweverSplit(frame(0x81, "\xE2\x82\xAC ok \xF0\x9F\x98\x80") +
                                  frame(0x01, "\xF0\x9F") + frame(0x80, "\x98\x80"));
}

TEST(WsReader, AssemblesFragmentsWithControlFramesBetweenThem) {
    const std::string wire = frame(0x01, "Hel") + frame(0x89, "ping!") + frame(0x00, "lo ") +
                             frame(0x8A, "unsolicited pong") + frame(0x89, "") +
                             frame(0x80, "world") + frame(0x02, "\xFF") + frame(0x89, "b") +
                             frame(0x80, "\xFE");
    const Outcome o = feed(wire);
    EXPECT_EQ(o.events, (Events{{"ping", "ping!"},
                                {"ping", ""},
                                {"text", "Hello world"},
                                {"ping", "b"},
                                {"binary", "\xFF\xFE"}}));
    ExpectSameOutcomeHoweverSplit(wire);
}

TEST(WsReader, DeliversEmptyMessagesAndEmptyFragments) {
    const Outcome o = feed(frame(0x81, "") + frame(0x01, "") + frame(0x00, "") + frame(0x80, "") +
                           frame(0x82, ""));
    EXPECT_EQ(o.events, (Events{{"text", ""}, {"text", ""}, {"binary", ""}}));
}

TEST(WsReader, DeliversMegabyteMessagesAcrossManyReads) {
    std::mt19937 rng(20);
    std::string big;
    const char* pieces[] = {"ascii ", "caf\xC3\xA9 ", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "z"};
    while (big.size() < kDefaultMax) big += pieces[rng() % 5];
    while (big.size() > kDefaultMax) big.pop_back();
    while (!core::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(big.data()), big.size())) {
        big.back() = 'z';  // the cut landed inside a sequence
    }
    ASSERT_EQ(big.size(), kDefaultMax) << "exactly the limit";
    std::string fragmented;
    for (std::size_t at = 0; at < big.size(); at += 65536) {
        const std::uint8_t first = at == 0 ? 0x01 : at + 65536 >= big.size() ? 0x80 : 0x00;
        fragmented += frame(first, big.substr(at, 65536)) + frame(0x89, "between");
    }
    const std::string wire = frame(0x81, big) + fragmented + frame(0x82, big);
    for (const std::vector<std::size_t>& reads :
         {std::vector<std::size_t>{}, std::vector<std::size_t>{16384},
          std::vector<std::size_t>{1 + rng() % 65536, 1 + rng() % 65536, 1 + rng() % 7}}) {
        const Outcome o = feed(wire, reads);
        ASSERT_EQ(o.status, ReadStatus::kOk);
        ASSERT_EQ(o.events.size(), 16u + 3u);
        EXPECT_TRUE(o.events.front() == (Event{"text", big}));
        EXPECT_TRUE(o.events[16] == (Event{"text", big})) << "the fragmented message";
        EXPECT_TRUE(o.events.back() == (Event{"binary", big}));
    }
}

// ---- Protocol rules: 1002 -------------------------------------------------------------------

TEST(WsReader, FailsAnUnmaskedFrameWith1002) {
    EXPECT_EQ(failure_code(frame(0x81, "x", false)), 1002);
    EXPECT_EQ(failure_code(frame(0x89, "", false)), 1002);
    EXPECT_EQ(failure_code(frame(0x81, "ok") + frame(0x82, "x", false)), 1002);
}

TEST(WsReader, FailsAnyRsvBitWith1002) {
    for (const int rsv : {0x40, 0x20, 0x10, 0x70}) {
        for (const int op : {0x1, 0x2, 0x8, 0x9, 0xA}) {
            EXPECT_EQ(failure_code(frame(static_cast<std::uint8_t>(0x80 | rsv | op), "")), 1002)
                << rsv << "/" << op;
        }
        EXPECT_EQ(
            failure_code(frame(0x01, "a") + frame(static_cast<std::uint8_t>(0x80 | rsv), "b")),
            1002);
    }
}

TEST(WsReader, FailsUnknownOpcodesWith1002) {
    for (const int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        EXPECT_EQ(failure_code(frame(static_cast<std::uint8_t>(0x80 | op), "x")), 1002) << op;
        EXPECT_EQ(failure_code(frame(static_cast<std::uint8_t>(op), "x")), 1002) << op;
    }
}

TEST(WsReader, FailsOversizedControlFramesWith1002) {
    EXPECT_EQ(failure_code(frame(0x89, std::string(126, 'p'))), 1002);
    EXPECT_EQ(failure_code(frame(0x8A, std::string(126, 'p'))), 1002);
    EXPECT_EQ(failure_code(frame(0x88, close_body(1000, std::string(124, 'r')))), 1002);
    for (const int op : {0x88, 0x89, 0x8A}) {
        EXPECT_EQ(failure_code(header(static_cast<std::uint8_t>(op), 1 << 16)), 1002)
            << "judged at the header";
    }
    // 125 bytes is the largest allowed; control frames are not bound by max_message.
    EXPECT_EQ(failure_code(frame(0x89, std::string(125, 'p')), 10), 0);
    EXPECT_EQ(failure_code(frame(0x8A, std::string(125, 'p')), 10), 0);
    EXPECT_EQ(feed(frame(0x88, close_body(1000, std::string(123, 'r')))).status,
              ReadStatus::kClosed);
}

TEST(WsReader, FailsFragmentedControlFramesWith1002) {
    EXPECT_EQ(failure_code(frame(0x09, "p")), 1002);
    EXPECT_EQ(failure_code(frame(0x0A, "p")), 1002);
    EXPECT_EQ(failure_code(frame(0x08, "")), 1002);
    EXPECT_EQ(failure_code(frame(0x01, "a") + frame(0x09, "p")), 1002);
}

TEST(WsReader, FailsAContinuationWithoutAMessageWith1002) {
    EXPECT_EQ(failure_code(frame(0x80, "x")), 1002);
    EXPECT_EQ(failure_code(frame(0x00, "x")), 1002);
    EXPECT_EQ(failure_code(frame(0x81, "done") + frame(0x00, "x")), 1002);
    EXPECT_EQ(failure_code(frame(0x01, "a") + frame(0x80, "b") + frame(0x80, "c")), 1002);
}

TEST(WsReader, FailsANewDataFrameInsideAFragmentedMessageWith1002) {
    EXPECT_EQ(failure_code(frame(0x01, "a") + frame(0x81, "b")), 1002);
    EXPECT_EQ(failure_code(frame(0x01, "a") + frame(0x02, "b")), 1002);
    EXPECT_EQ(failure_code(frame(0x02, "a") + frame(0x89, "p") + frame(0x01, "b")), 1002);
}

TEST(WsReader, FailsATopBitLengthWith1002) {
    const std::string wire("\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", 14);
    EXPECT_EQ(failure_code(wire), 1002);
    EXPECT_EQ(failure_code(frame(0x81, "ok") + wire), 1002);
}

TEST(WsReader, FailsAOneByteCloseBodyWith1002) {
    EXPECT_EQ(failure_code(frame(0x88, "\x03")), 1002);
}

TEST(WsReader, AcceptsExactlyTheCloseCodesRfc6455Allows) {
    for (int code = 0; code <= 65535; code += code < 5100 ? 1 : 251) {
        const bool allowed = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                             (code >= 3000 && code <= 4999);
        const Outcome o = feed(frame(0x88, close_body(code, "why")));
        if (allowed) {
            ASSERT_EQ(o.status, ReadStatus::kClosed) << code;
            EXPECT_EQ(o.events, (Events{{"close", "why", static_cast<std::uint16_t>(code)}}));
        } else {
            ASSERT_EQ(o.status, ReadStatus::kFailed) << code;
            EXPECT_EQ(o.code, 1002) << code;
            EXPECT_TRUE(o.events.empty());
        }
    }
}

TEST(WsReader, JudgesHeaderRulesAsSoonAsTheirBytesArrive) {
    struct Case {
        const char* rule;
        std::string bytes;  // all that has arrived
    };
    const Case cases[] = {
        {"RSV bit", "\xC1"},
        {"unknown opcode", "\x83"},
        {"fragmented control", "\x09"},
        {"continuation without start", "\x80"},
        {"unmasked", "\x81\x05"},
        {"control over 125", "\x89\xFE"},
        {"data frame mid-message", frame(0x01, "a") + "\x81"},
    };
    for (const Case& c : cases) {
        const Outcome o = feed(c.bytes);
        EXPECT_EQ(o.status, ReadStatus::kFailed) << c.rule;
        EXPECT_EQ(o.code, 1002) << c.rule;
        // Also when the deciding byte comes in a later read than the frame's first.
        if (c.bytes.size() >= 2) {
            EXPECT_EQ(feed(c.bytes, {c.bytes.size() - 1, 1}).code, 1002) << c.rule;
        }
    }
}

// ---- UTF-8: 1007 ----------------------------------------------------------------------------

TEST(WsReader, FailsACloseReasonThatIsNotUtf8With1007) {
    EXPECT_EQ(failure_code(frame(0x88, close_body(1000, "\xFF"))), 1007);
    EXPECT_EQ(failure_code(frame(0x88, close_body(1000, "cut \xE2\x82"))), 1007);
    EXPECT_EQ(failure_code(frame(0x88, close_body(1000, "\xED\xA0\x80"))), 1007);
    EXPECT_EQ(feed(frame(0x88, close_body(4000, "r\xC3\xA9sum\xC3\xA9"))).status,
              ReadStatus::kClosed);
}

TEST(WsReader, FailsInvalidUtf8TextWith1007) {
    for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "ok\xF4\x90\x80\x80", "\xFF",
                            "a\x80"
                            "b",
                            "\xE0\x80\x80", "\xF0\x8F\xBF\xBF"}) {
        EXPECT_EQ(failure_code(frame(0x81, bad)), 1007) << ::testing::PrintToString(bad);
        EXPECT_EQ(failure_code(frame(0x01, "fine") + frame(0x80, bad)), 1007);
    }
    EXPECT_EQ(failure_code(frame(0x82, "\xFF\xFE")), 0) << "binary is not validated";
    EXPECT_EQ(failure_code(frame(0x02, "\xFF") + frame(0x80, "\xC0")), 0);
}

TEST(WsReader, FailsTextEndingInsideASequenceWith1007) {
    EXPECT_EQ(failure_code(frame(0x81, "ends inside \xE2\x82")), 1007);
    EXPECT_EQ(failure_code(frame(0x81, "\xF0\x9F\x98")), 1007);
    EXPECT_EQ(failure_code(frame(0x01, "\xE2") + frame(0x80, "\x82")), 1007);
    EXPECT_EQ(failure_code(frame(0x01, "\xE2") + frame(0x00, "\x82") + frame(0x80, "\xAC")), 0)
        << "a code point split over three fragments is fine";
    EXPECT_EQ(failure_code(frame(0x01, "\xE2") + frame(0x89, "p") + frame(0x80, "\x82\xAC")), 0);
}

TEST(WsReader, FailsInvalidUtf8BeforeTheFrameIsComplete) {
    const std::string wire = frame(0x81, "valid start \xFF then more that has not arrived yet");
    // Only the first 20 bytes arrive: the bad byte is among them.
    const Outcome o = feed(wire.substr(0, 20));
    EXPECT_EQ(o.status, ReadStatus::kFailed);
    EXPECT_EQ(o.code, 1007);
    // A sequence that can no longer become valid fails before its remaining bytes arrive.
    EXPECT_EQ(failure_code(frame(0x81, "abc\xE0\x80\x80 more").substr(0, 6 + 5)), 1007);
    EXPECT_EQ(failure_code(frame(0x81, "abc\xED\xA0\x80 more").substr(0, 6 + 5)), 1007);
}

TEST(WsReader, FailsInvalidUtf8InAFragmentBeforeTheMessageEnds) {
    // The first fragment is bad; no FIN frame ever arrives.
    EXPECT_EQ(failure_code(frame(0x01, "ab\xFF")), 1007);
    // The bad byte continues a sequence that started in the previous fragment.
    EXPECT_EQ(failure_code(frame(0x01, "ab\xE0") + frame(0x00, "\x80")), 1007);
    EXPECT_EQ(failure_code(frame(0x01, "ab\xF4") + frame(0x89, "p") + frame(0x00, "\x90")), 1007);
}

TEST(WsReader, FailsInvalidUtf8AtTheReadThatBringsTheBadByte) {
    std::string text(100, 't');
    text.replace(50, 3, "\xE2\x28\xA1");  // the byte at 51 breaks the sequence started at 50
    const std::string wire = frame(0x81, "before") + frame(0x01, "x") + frame(0x00, text);
    const std::size_t bad_at = wire.size() - 100 + 51;
    for (std::size_t split = 1; split < wire.size(); ++split) {
        const Outcome o = feed(wire, {split, wire.size()});
        EXPECT_EQ(o.code, 1007);
        const std::vector<ReadStatus> expected =
            split > bad_at ? std::vector<ReadStatus>{ReadStatus::kFailed}
                           : std::vector<ReadStatus>{ReadStatus::kOk, ReadStatus::kFailed};
        EXPECT_EQ(o.reads, expected) << "split at " << split;
        EXPECT_EQ(o.events, (Events{{"text", "before"}}));
    }
}

// ---- Size limit: 1009 -----------------------------------------------------------------------

TEST(WsReader, FailsAMessageOverTheLimitWith1009AtItsHeader) {
    EXPECT_EQ(failure_code(frame(0x81, std::string(101, 'x')), 100), 1009);
    EXPECT_EQ(failure_code(frame(0x82, std::string(101, 'x')), 100), 1009);
    // Decided from the header alone: nothing of the payload has been sent.
    EXPECT_EQ(failure_code(header(0x81, 101), 100), 1009);
    EXPECT_EQ(failure_code(header(0x82, 1ull << 62)), 1009);
    EXPECT_EQ(failure_code(frame(0x01, std::string(60, 'x')) + header(0x80, 41), 100), 1009);
}

TEST(WsReader, FailsFragmentsTogetherOverTheLimitWith1009) {
    EXPECT_EQ(
        failure_code(frame(0x01, std::string(60, 'x')) + frame(0x80, std::string(41, 'x')), 100),
        1009);
    EXPECT_EQ(
        failure_code(frame(0x01, std::string(40, 'x')) + frame(0x00, std::string(40, 'x')) +
                         frame(0x89, std::string(100, 'p')) + frame(0x80, std::string(21, 'x')),
                     100),
        1009);
}

TEST(WsReader, AcceptsAMessageOfExactlyTheLimit) {
    EXPECT_EQ(feed(frame(0x81, std::string(100, 'x')), {}, 100).events.size(), 1u);
    const std::string fragmented =
        frame(0x01, std::string(40, 'x')) + frame(0x89, std::string(100, 'p')) +
        frame(0x00, std::string(40, 'x')) + frame(0x80, std::string(20, 'x'));
    const Outcome o = feed(fragmented, {}, 100);
    EXPECT_EQ(o.status, ReadStatus::kOk);
    EXPECT_EQ(o.events.back(), (Event{"text", std::string(100, 'x')}));
    ExpectSameOutcomeHoweverSplit(fragmented, 100);
}

// ---- Every failure, however the input is split --------------------------------------------

TEST(WsReader, ReportsEachFailureTheSameWhateverTheReadBoundaries) {
    struct Case {
        const char* rule;
        std::string wire;
        std::uint16_t code;
    };
    const std::string top_bit("\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", 14);
    const Case cases[] = {
        {"unmasked", frame(0x81, "x", false), 1002},
        {"RSV bit", frame(0xC1, "x"), 1002},
        {"unknown opcode", frame(0x83, "x"), 1002},
        {"control over 125", frame(0x89, std::string(126, 'p')), 1002},
        {"fragmented control", frame(0x09, "p"), 1002},
        {"continuation without start", frame(0x80, "x"), 1002},
        {"data frame mid-message", frame(0x01, "a") + frame(0x81, "b"), 1002},
        {"top-bit length", top_bit, 1002},
        {"1-byte close body", frame(0x88, "\x03"), 1002},
        {"invalid close code", frame(0x88, close_body(1005)), 1002},
        {"close reason not UTF-8", frame(0x88, close_body(1000, "\xFF")), 1007},
        {"text not UTF-8", frame(0x81, "bad \xED\xA0\x80 text"), 1007},
        {"text ends inside a sequence", frame(0x01, "\xE2") + frame(0x80, "\x82"), 1007},
        {"message over the limit", frame(0x81, std::string(201, 'x')), 1009},
        {"fragments over the limit", frame(0x01, std::string(150, 'x')) + header(0x80, 51), 1009},
    };
    const std::string ok = frame(0x81, "ok") + frame(0x89, "p");
    for (const Case& c : cases) {
        const Outcome o = feed(ok + c.wire, {}, 200);
        ASSERT_EQ(o.status, ReadStatus::kFailed) << c.rule;
        EXPECT_EQ(o.code, c.code) << c.rule;
        EXPECT_EQ(o.events, (Events{{"text", "ok"}, {"ping", "p"}})) << c.rule;
        ExpectSameOutcomeHoweverSplit(ok + c.wire, 200);
    }
}

// ---- Stopping, closing, failing -------------------------------------------------------------

TEST(WsReader, StopsWhereTheHandlerSaysAndReportsHowFarItGot) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    rec.stop_at = 1;
    const std::string first = frame(0x81, "first");
    const std::string wire = first + frame(0x81, "second");
    std::vector<std::uint8_t> buf = padded(wire);
    ReadResult r = reader.consume(buf.data(), wire.size(), rec, pool, WsLimits{});
    EXPECT_EQ(r.status, ReadStatus::kStopped);
    EXPECT_EQ(r.consumed, first.size());
    EXPECT_EQ(rec.events, (Events{{"text", "first"}}));
    r = reader.consume(buf.data() + r.consumed, wire.size() - r.consumed, rec, pool, WsLimits{});
    EXPECT_EQ(r.status, ReadStatus::kOk);
    EXPECT_EQ(r.consumed, wire.size() - first.size());
    EXPECT_EQ(rec.events, (Events{{"text", "first"}, {"text", "second"}}));
    reader.release();
}

TEST(WsReader, StopsAfterAFrameCompletedFromAnEarlierRead) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    rec.stop_at = 1;
    const std::string ping = frame(0x89, "ping payload");
    const std::string wire = ping + frame(0x81, "next");
    std::vector<std::uint8_t> a = padded(std::string_view(wire).substr(0, 5));
    std::vector<std::uint8_t> b = padded(std::string_view(wire).substr(5));
    EXPECT_EQ(reader.consume(a.data(), 5, rec, pool, WsLimits{}).status, ReadStatus::kOk);
    const ReadResult r = reader.consume(b.data(), wire.size() - 5, rec, pool, WsLimits{});
    EXPECT_EQ(r.status, ReadStatus::kStopped);
    EXPECT_EQ(r.consumed, ping.size() - 5) << "the rest of the ping, nothing more";
    EXPECT_TRUE(reader.idle());
    reader.release();
}

TEST(WsReader, ResumingAfterAStopAtAnyEventGivesTheSameEvents) {
    const std::string wire = frame(0x81, "a") + frame(0x01, "b") + frame(0x89, "p1") +
                             frame(0x80, "c") + frame(0x89, "p2") + frame(0x82, "d") +
                             frame(0x88, close_body(1000));
    const Outcome ref = feed(wire);
    ASSERT_EQ(ref.events.size(), 6u);
    for (std::size_t stop_at = 1; stop_at <= 5; ++stop_at) {
        for (std::size_t split = 1; split < wire.size(); ++split) {
            const Outcome o = feed(wire, {split, wire.size()}, kDefaultMax, stop_at);
            ASSERT_EQ(o.events, ref.events) << stop_at << "/" << split;
            EXPECT_EQ(o.status, ReadStatus::kClosed);
            EXPECT_EQ(o.stops, 1u);
        }
    }
}

TEST(WsReader, ClosesAfterACloseFrameAndIgnoresWhatFollows) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    const std::string close = frame(0x88, close_body(4000,
                                                     "r\xC3\xA9"
                                                     "ason"));
    // A fragmented message is in progress when the close arrives.
    const std::string wire = frame(0x01, "unfinished") + close + frame(0x81, "after");
    std::vector<std::uint8_t> buf = padded(wire);
    ReadResult r = reader.consume(buf.data(), wire.size(), rec, pool, WsLimits{});
    EXPECT_EQ(r.status, ReadStatus::kClosed);
    EXPECT_EQ(r.consumed, wire.size() - frame(0x81, "after").size());
    EXPECT_EQ(rec.events, (Events{{"close",
                                   "r\xC3\xA9"
                                   "ason",
                                   4000}}));
    EXPECT_EQ(pool.stats().live_blocks, 0u) << "the close released the partial message";
    std::vector<std::uint8_t> more(buf);
    r = reader.consume(more.data(), wire.size(), rec, pool, WsLimits{});
    EXPECT_EQ(r.status, ReadStatus::kClosed);
    EXPECT_EQ(rec.events.size(), 1u);
    reader.release();
}

TEST(WsReader, ReportsAnEmptyCloseAsNoStatus) {
    const Outcome o = feed(frame(0x88, ""));
    EXPECT_EQ(o.status, ReadStatus::kClosed);
    EXPECT_EQ(o.events, (Events{{"close", "", close_code::kNoStatus}}));
}

TEST(WsReader, StaysFailedAfterAViolation) {
    const std::pair<std::string, std::uint16_t> cases[] = {
        {frame(0x83, "x"), 1002},
        {frame(0x80, "\xFF"), 1007},
        {frame(0x80, std::string(200, 'x')), 1009}};
    for (const auto& [bad, code] : cases) {
        core::BlockPool pool;
        WsReader reader;
        Recorder rec;
        // A fragmented message is held when the violation arrives.
        const std::string wire = frame(0x01, "held") + bad;
        std::vector<std::uint8_t> buf = padded(wire);
        const ReadResult first = reader.consume(buf.data(), wire.size(), rec, pool, WsLimits{100});
        ASSERT_EQ(first.status, ReadStatus::kFailed);
        EXPECT_EQ(first.close_code, code);
        EXPECT_EQ(pool.stats().live_blocks, 0u) << "failing releases what was held";
        const std::string good = frame(0x80, "ignored") + frame(0x81, "ignored");
        std::vector<std::uint8_t> buf2 = padded(good);
        const ReadResult again = reader.consume(buf2.data(), good.size(), rec, pool, WsLimits{});
        EXPECT_EQ(again.status, ReadStatus::kFailed);
        EXPECT_EQ(again.close_code, first.close_code);
        EXPECT_TRUE(rec.events.empty());
        reader.release();
    }
}

TEST(WsReader, ReleaseMakesTheReaderReusable) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    const auto consume = [&](const std::string& wire) {
        std::vector<std::uint8_t> buf = padded(wire);
        return reader.consume(buf.data(), wire.size(), rec, pool, WsLimits{}).status;
    };
    EXPECT_EQ(consume(frame(0x83, "x")), ReadStatus::kFailed);
    reader.release();
    EXPECT_EQ(consume(frame(0x81, "after failure")), ReadStatus::kOk);
    EXPECT_EQ(consume(frame(0x88, "")), ReadStatus::kClosed);
    reader.release();
    // A text message cut inside a UTF-8 sequence and a partial frame: release forgets both.
    EXPECT_EQ(consume(frame(0x01, "\xE2\x82") + frame(0x00, "more").substr(0, 3)), ReadStatus::kOk);
    reader.release();
    EXPECT_TRUE(reader.idle());
    EXPECT_EQ(consume(frame(0x81, "fresh")), ReadStatus::kOk);
    EXPECT_EQ(consume(frame(0x80, "orphan")), ReadStatus::kFailed) << "no message in progress";
    EXPECT_EQ(rec.events, (Events{{"text", "after failure"},
                                  {"close", "", close_code::kNoStatus},
                                  {"text", "fresh"}}));
    reader.release();
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

// ---- Memory ---------------------------------------------------------------------------------

TEST(WsReader, PayloadsAreFollowedByPaddingInEveryDeliveryPath) {
    // In place, from a carried frame, and from an assembled message; the recorder reads the
    // kPadding bytes after each payload.
    const std::string wire = frame(0x81, std::string(100, 'a')) +
                             frame(0x82, std::string(300, 'b')) +
                             frame(0x01, std::string(200, 'c')) + frame(0x80, std::string(55, 'd'));
    const Outcome o = feed(wire, {150});
    EXPECT_EQ(o.events.size(), 3u);
    EXPECT_EQ(feed(wire).in_place, 2u);
}

TEST(WsReader, ReleaseReturnsEveryBlockToThePool) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    // A fragmented message and half of the next frame are held.
    std::string wire = frame(0x01, std::string(1000, 'm')) + frame(0x00, std::string(5000, 'n'));
    wire.resize(wire.size() - 100);
    std::vector<std::uint8_t> buf = padded(wire);
    EXPECT_EQ(reader.consume(buf.data(), wire.size(), rec, pool, WsLimits{}).status,
              ReadStatus::kOk);
    EXPECT_EQ(pool.stats().live_blocks, 2u);
    EXPECT_FALSE(reader.idle());
    reader.release();
    EXPECT_TRUE(reader.idle());
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

// Bytes held by a reader after `arrived` payload bytes of a 1 MiB binary frame, in reads of
// `read_size`: everything the pool has on its free lists once the reader releases.
std::size_t held_bytes(std::size_t arrived, std::size_t read_size) {
    core::BlockPool pool;
    WsReader reader;
    Recorder rec;
    const std::string wire = header(0x82, kDefaultMax) + std::string(arrived, '\0');
    for (std::size_t at = 0; at < wire.size(); at += read_size) {
        const std::size_t take = std::min(read_size, wire.size() - at);
        std::vector<std::uint8_t> buf = padded(std::string_view(wire).substr(at, take));
        EXPECT_EQ(reader.consume(buf.data(), take, rec, pool, WsLimits{}).status, ReadStatus::kOk);
    }
    EXPECT_EQ(pool.stats().live_blocks, 1u);
    reader.release();
    return pool.stats().cached_bytes;
}

TEST(WsReader, MemoryForAHugeDeclaredFrameGrowsWithWhatArrives) {
    EXPECT_LE(held_bytes(10, 1 << 20), 8192u) << "10 bytes of a declared megabyte";
    EXPECT_LE(held_bytes(10, 1), 8192u);
    EXPECT_LE(held_bytes(100000, 16384), 400000u);
    EXPECT_GE(held_bytes(kDefaultMax - 1, 65536), kDefaultMax) << "the frame itself, nearly whole";
}

}  // namespace
}  // namespace herald::net
