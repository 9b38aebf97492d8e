// Fuzz-style test: hundreds of thousands of random and mutated client frames, split at random
// read boundaries, through the WebSocket reader and the command parser. Fixed seed, bounded
// count: the same inputs every run.
//
// Oracles: nothing crashes (ASan/UBSan builds check memory), failures carry 1002, 1007 or
// 1009 only, no pool block outlives release(), every text message delivered is valid UTF-8,
// the parser never accepts a group id over its limit, closed/failed readers stay so, and an
// unmutated stream delivers exactly the events it was generated from, however it is split.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/unmask.h"
#include "core/utf8.h"
#include "net/command.h"
#include "net/ws_reader.h"

namespace herald::net {
namespace {

constexpr int kStreams = 60'000;  // ~570,000 frames; the same count under ASan+UBSan
constexpr std::size_t kMaxGroupId = 64;

struct Event {
    char kind;  // 't' text, 'b' binary, 'p' ping, 'c' close
    std::string payload;
    std::uint16_t code = 0;
    bool operator==(const Event&) const = default;
};

// A generated stream of client frames and what a reader must report for it.
struct Stream {
    std::string wire;
    std::vector<Event> events;  // up to and including a close
    int frames = 0;
    bool closes = false;
    std::size_t largest_message = 0;
};

class Generator {
  public:
    explicit Generator(std::uint32_t seed) : rng_(seed) {}

    // Mostly commands, with binary messages, fragments, control frames and sometimes a close.
    Stream stream() {
        Stream s;
        const int n = 1 + static_cast<int>(below(12));
        for (int i = 0; i < n; ++i) {
            switch (below(10)) {
                case 0: {
                    const std::string p = random_text(below(8) == 0 ? 125 : below(40), 125);
                    add(s, 0x89, p);
                    expect(s, {'p', p});
                    break;
                }
                case 1: {
                    const std::size_t size = below(200) == 0 ? 65536 + below(5000) : below(300);
                    const std::string p = random_bytes(size);
                    add(s, 0x82, p);
                    expect(s, {'b', p});
                    break;
                }
                case 2:
                    fragmented(s, 0x1, command());
                    break;
                case 3:
                    fragmented(s, 0x2, random_bytes(below(400)));
                    break;
                case 4:
                    if (below(4) == 0) {
                        close(s);
                    } else {
                        add(s, 0x8A, random_text(below(20), 125));  // a pong: no event
                    }
                    break;
                default: {
                    const std::string c = command();
                    add(s, 0x81, c);
                    expect(s, {'t', c});
                }
            }
        }
        return s;
    }

    // Bit flips, truncation, inserted/deleted bytes, length bytes set to interesting values,
    // splices from an earlier stream, duplicated tails.
    void mutate(std::string& s, const std::string& earlier) {
        const int edits = 1 + static_cast<int>(below(4));
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const std::size_t at = below(s.size());
            switch (below(7)) {
                case 0:
                    s[at] = static_cast<char>(s[at] ^ (1 << below(8)));
                    break;
                case 1:
                    s.resize(at);
                    break;
                case 2:
                    s.insert(at, random_bytes(1 + below(16)));
                    break;
                case 3:
                    s.erase(at, 1 + below(8));
                    break;
                case 4:  // a length or header byte set to one of the interesting values
                    s[at] = static_cast<char>(
                        std::array<int, 8>{0x7E, 0x7F, 0xFE, 0xFF, 0x7D, 0, 0x80, 0x81}[below(8)]);
                    break;
                case 5:
                    if (!earlier.empty()) {
                        const std::size_t from = below(earlier.size());
                        s.insert(at, earlier.substr(from, 1 + below(earlier.size() - from)));
                    }
                    break;
                default:
                    s += s.substr(at);
            }
        }
    }

    std::size_t below(std::size_t n) { return n == 0 ? 0 : rng_() % n; }

  private:
    void expect(Stream& s, Event e) {
        if (s.closes) return;
        if (e.kind == 't' || e.kind == 'b')
            s.largest_message = std::max(s.largest_message, e.payload.size());
        s.events.push_back(std::move(e));
    }

    void add(Stream& s, std::uint8_t first, std::string payload) {
        std::uint8_t key[4];
        for (auto& k : key) k = static_cast<std::uint8_t>(rng_());
        std::uint8_t head[kMaxClientHeader];
        const std::size_t n = encode_client_header(head, static_cast<Opcode>(first & 0x0F),
                                                   payload.size(), key, (first & 0x80) != 0);
        core::unmask(reinterpret_cast<std::uint8_t*>(payload.data()), payload.size(), key);
        s.wire.append(reinterpret_cast<char*>(head), n);
        s.wire += payload;
        ++s.frames;
    }

    // 1-4 fragments cut at random bytes (text may be cut inside a UTF-8 sequence), with pings
    // and pongs between them.
    void fragmented(Stream& s, std::uint8_t opcode, const std::string& message) {
        std::vector<std::size_t> cuts = {0, message.size()};
        for (std::size_t k = below(4); k > 0; --k) cuts.push_back(below(message.size() + 1));
        std::sort(cuts.begin(), cuts.end());
        for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
            const bool last = k + 2 == cuts.size();
            const std::uint8_t op = k == 0 ? opcode : 0x0;
            add(s, static_cast<std::uint8_t>((last ? 0x80 : 0x00) | op),
                message.substr(cuts[k], cuts[k + 1] - cuts[k]));
            if (!last && below(3) == 0) {
                const std::string p = random_text(below(10), 125);
                add(s, 0x89, p);
                expect(s, {'p', p});
            }
            if (!last && below(5) == 0) add(s, 0x8A, "pong");
        }
        expect(s, {opcode == 0x1 ? 't' : 'b', message});
    }

    void close(Stream& s) {
        if (below(5) == 0) {
            add(s, 0x88, "");
            expect(s, {'c', "", close_code::kNoStatus});
        } else {
            const std::uint16_t code =
                std::array<std::uint16_t, 5>{1000, 1001, 1011, 3000, 4999}[below(5)];
            const std::string reason = random_text(below(30), 123);
            add(s, 0x88,
                std::string{static_cast<char>(code >> 8), static_cast<char>(code)} + reason);
            expect(s, {'c', reason, code});
        }
        s.closes = true;
    }

    // A JSON command; the group id is sometimes longer than the parser allows.
    std::string command() {
        static const char* kCmds[] = {"add_group", "send_to_group", "leave_group", "bogus"};
        const std::string group =
            below(5) == 0 ? std::to_string(rng_()) : "\"" + random_text(below(90), 1000) + "\"";
        std::string c = std::string("{\"cmd\":\"") + kCmds[below(4)] + "\",\"group_id\":" + group;
        if (below(2) != 0) c += ",\"message\":\"" + random_text(below(200), 1000) + "\"";
        c += "}";
        return c;
    }

    // Valid UTF-8 of about `n` bytes (at most `max`), with JSON escapes among it.
    std::string random_text(std::size_t n, std::size_t max) {
        static const char* kPieces[] = {
            "a", "b",    "\\n",     "\\u00e9",         "\\ud83d\\ude00", "\xC3\xA9", "\xE2\x82\xAC",
            " ", "\\\"", "\\ud800", "\xF0\x9F\x98\x80"};
        std::string s;
        while (s.size() < n) {
            const std::string_view piece = kPieces[below(11)];
            if (s.size() + piece.size() > max) break;
            s += piece;
        }
        return s;
    }

    std::string random_bytes(std::size_t n) {
        std::string s(n, '\0');
        for (auto& ch : s) ch = static_cast<char>(rng_());
        return s;
    }

    std::mt19937 rng_;
};

// Checks every message as it arrives and records the events; sometimes asks the reader to stop.
struct Sink {
    CommandParser& parser;
    Generator& gen;
    std::vector<Event> events;
    std::size_t commands = 0;
    std::size_t stops = 0;

    bool on_message(Opcode op, std::span<const std::uint8_t> payload) {
        const std::string bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
        if (op == Opcode::kText) {
            EXPECT_TRUE(core::is_valid_utf8(payload.data(), payload.size()));
            // The payload has kPadding readable bytes after it, as the parser needs.
            const ParseResult r = parser.parse(payload);
            if (r.error == ErrorCode::kNone) {
                ++commands;
                EXPECT_LE(r.command.group_id.size(), kMaxGroupId);
            }
        }
        events.push_back({op == Opcode::kText ? 't' : 'b', bytes});
        return go_on();
    }
    bool on_ping(std::span<const std::uint8_t> payload) {
        EXPECT_LE(payload.size(), kMaxControlPayload);
        events.push_back(
            {'p', std::string(reinterpret_cast<const char*>(payload.data()), payload.size())});
        return go_on();
    }
    void on_close(std::uint16_t code, std::string_view reason) {
        EXPECT_TRUE(code == close_code::kNoStatus || is_valid_close_code(code));
        EXPECT_TRUE(core::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(reason.data()),
                                        reason.size()));
        events.push_back({'c', std::string(reason), code});
    }
    bool go_on() {
        if (gen.below(16) != 0) return true;
        ++stops;
        return false;
    }
};

struct Tally {
    std::size_t failures[3] = {0, 0, 0};  // 1002, 1007, 1009
    std::size_t closes = 0;
    std::size_t exact = 0;  // unmutated streams checked event by event
};

// Feeds `wire` to the reader in random reads, resuming after kStopped; returns the final
// status. The reader is then released for the next stream (so anything release() forgot would
// show up as a wrong event later), and the pool must hold no live block.
ReadStatus run(const std::string& wire, std::uint64_t max_message, WsReader& reader, Generator& gen,
               Sink& sink, core::BlockPool& pool, Tally& tally) {
    const WsLimits limits{max_message};
    std::vector<std::uint8_t> buf;
    ReadStatus status = ReadStatus::kOk;
    std::size_t at = 0;
    while (at < wire.size() && status == ReadStatus::kOk) {
        const std::size_t take = 1 + gen.below(gen.below(4) == 0 ? 8 : wire.size() - at);
        const std::size_t n = std::min(take, wire.size() - at);
        buf.assign(wire.begin() + static_cast<std::ptrdiff_t>(at),
                   wire.begin() + static_cast<std::ptrdiff_t>(at + n));
        buf.resize(n + core::Block::kPadding);
        at += n;
        std::size_t done = 0;
        ReadResult r;
        do {
            r = reader.consume(buf.data() + done, n - done, sink, pool, limits);
            EXPECT_LE(r.consumed, n - done);
            done += r.consumed;
        } while (r.status == ReadStatus::kStopped);
        status = r.status;
        if (status == ReadStatus::kFailed) {
            EXPECT_TRUE(r.close_code == 1002 || r.close_code == 1007 || r.close_code == 1009)
                << r.close_code;
            ++tally.failures[r.close_code == 1002 ? 0 : r.close_code == 1007 ? 1 : 2];
        }
        if (status == ReadStatus::kClosed) ++tally.closes;
        if (status == ReadStatus::kFailed || status == ReadStatus::kClosed) {
            // Sticky: more input changes nothing.
            const std::size_t seen = sink.events.size();
            const ReadResult again = reader.consume(buf.data(), n, sink, pool, limits);
            EXPECT_EQ(again.status, status);
            EXPECT_EQ(sink.events.size(), seen);
        }
    }
    reader.release();
    EXPECT_EQ(pool.stats().live_blocks, 0u);
    return status;
}

TEST(CodecFuzz, RandomAndMutatedFramesNeverCrashLeakOrMisreport) {
    Generator gen(20261123);
    core::BlockPool pool;
    CommandParser parser(kMaxGroupId);
    Sink sink{parser, gen, {}};
    Tally tally;
    WsReader reader;
    int frames = 0;
    std::string earlier;
    for (int i = 0; i < kStreams && !HasFailure(); ++i) {
        Stream s = gen.stream();
        frames += s.frames;
        const bool mutated = i % 3 != 0;
        if (mutated) gen.mutate(s.wire, earlier);
        // Half the streams get a generous limit, half a small random one (1009s).
        const std::uint64_t max = i % 2 == 0 ? 1 << 20 : 1 + gen.below(4096);
        sink.events.clear();
        const ReadStatus status = run(s.wire, max, reader, gen, sink, pool, tally);
        if (!mutated && s.largest_message <= max) {
            ++tally.exact;
            ASSERT_EQ(status, s.closes ? ReadStatus::kClosed : ReadStatus::kOk) << "stream " << i;
            ASSERT_TRUE(sink.events == s.events) << "stream " << i;
        }
        earlier = std::move(s.wire);
    }
    EXPECT_GE(frames, 200'000);
    // The inputs reach every outcome: commands, exact streams, closes, each kind of failure.
    EXPECT_GT(sink.commands, 10'000u);
    EXPECT_GT(sink.stops, 1000u);
    EXPECT_GT(tally.exact, 10'000u);
    EXPECT_GT(tally.closes, 1000u);
    EXPECT_GT(tally.failures[0], 1000u);
    EXPECT_GT(tally.failures[1], 100u);
    EXPECT_GT(tally.failures[2], 1000u);
    std::printf(
        "frames %d, commands %zu, stops %zu, exact streams %zu, closes %zu, "
        "failed 1002/1007/1009: %zu/%zu/%zu\n",
        frames, sink.commands, sink.stops, tally.exact, tally.closes, tally.failures[0],
        tally.failures[1], tally.failures[2]);
}

}  // namespace
}  // namespace herald::net
