// Fuzz-style test: hundreds of thousands of random and mutated client frames, split at random
// read boundaries, through the WebSocket reader and the command parser. Fixed seed, bounded
// count: the same inputs every run.
#include <gtest/gtest.h>

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

constexpr int kStreams = 50'000;  // ~350,000 frames: under a second, ASan+UBSan included

class Generator {
  public:
    explicit Generator(std::uint32_t seed) : rng_(seed) {}

    // A stream of mostly valid client frames: commands, fragments, control frames.
    std::string stream(int& frames) {
        std::string out;
        const int n = 1 + static_cast<int>(rng_() % 12);
        for (int i = 0; i < n; ++i) {
            ++frames;
            switch (rng_() % 10) {
                case 0:
                    out += frame(0x89, random_text(rng_() % 40));
                    break;
                case 1:
                    out += frame(0x82, random_bytes(rng_() % 300));
                    break;
                case 2: {  // a fragmented command
                    const std::string cmd = command();
                    const std::size_t cut = cmd.empty() ? 0 : rng_() % cmd.size();
                    out += frame(0x01, cmd.substr(0, cut));
                    if (rng_() % 2) out += frame(0x8A, "pong");
                    out += frame(0x80, cmd.substr(cut));
                    ++frames;
                    break;
                }
                case 3:
                    if (rng_() % 4 == 0)
                        out += frame(0x88,
                                     "\x03\xE8"
                                     "bye");
                    break;
                default:
                    out += frame(0x81, command());
            }
        }
        return out;
    }

    // Bit flips, truncation, splices, random bytes, overwritten lengths.
    void mutate(std::string& s) {
        if (s.empty()) return;
        const int edits = static_cast<int>(rng_() % 4);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const std::size_t at = rng_() % s.size();
            switch (rng_() % 6) {
                case 0:
                    s[at] = static_cast<char>(s[at] ^ (1 << (rng_() % 8)));
                    break;
                case 1:
                    s.resize(at);
                    break;
                case 2:
                    s.insert(at, random_bytes(1 + rng_() % 16));
                    break;
                case 3:
                    s.erase(at, 1 + rng_() % 8);
                    break;
                case 4:  // a length byte set to one of the interesting values
                    s[at] = static_cast<char>(
                        std::array<int, 6>{0x7E, 0x7F, 0xFE, 0xFF, 0x7D, 0}[rng_() % 6]);
                    break;
                default:
                    s += s.substr(rng_() % s.size());
            }
        }
    }

    std::size_t below(std::size_t n) { return n == 0 ? 0 : rng_() % n; }

  private:
    std::string frame(std::uint8_t first, std::string payload) {
        std::uint8_t key[4];
        for (auto& k : key) k = static_cast<std::uint8_t>(rng_());
        std::uint8_t head[kMaxClientHeader];
        const std::size_t n = encode_client_header(head, static_cast<Opcode>(first & 0x0F),
                                                   payload.size(), key, (first & 0x80) != 0);
        core::unmask(reinterpret_cast<std::uint8_t*>(payload.data()), payload.size(), key);
        return std::string(reinterpret_cast<char*>(head), n) + payload;
    }
    std::string command() {
        static const char* kCmds[] = {"add_group", "send_to_group", "leave_group", "bogus"};
        std::string group =
            rng_() % 5 == 0 ? std::to_string(rng_()) : "\"" + random_text(rng_() % 20) + "\"";
        std::string c = std::string("{\"cmd\":\"") + kCmds[rng_() % 4] + "\",\"group_id\":" + group;
        if (rng_() % 2) c += ",\"message\":\"" + random_text(rng_() % 200) + "\"";
        c += "}";
        return c;
    }
    std::string random_text(std::size_t n) {
        static const char* kPieces[] = {
            "a", "b",    "\\n",    "\\u00e9", "\\ud83d\\ude00", "\xC3\xA9", "\xE2\x82\xAC",
            " ", "\\\"", "\\ud800"};
        std::string s;
        while (s.size() < n) s += kPieces[rng_() % 10];
        return s;
    }
    std::string random_bytes(std::size_t n) {
        std::string s(n, '\0');
        for (auto& ch : s) ch = static_cast<char>(rng_());
        return s;
    }
    std::mt19937 rng_;
};

struct Sink {
    CommandParser& parser;
    std::size_t max_group_id;
    std::size_t messages = 0;
    std::size_t commands = 0;
    bool on_message(Opcode op, std::span<const std::uint8_t> payload) {
        ++messages;
        if (op == Opcode::kText) {
            EXPECT_TRUE(core::is_valid_utf8(payload.data(), payload.size()));
            const ParseResult r = parser.parse(payload);
            if (r.error == ErrorCode::kNone) {
                ++commands;
                EXPECT_LE(r.command.group_id.size(), max_group_id);
                EXPECT_TRUE(core::is_valid_utf8(
                    reinterpret_cast<const std::uint8_t*>(r.command.message.data()),
                    r.command.message.size()));
            }
        }
        return true;
    }
    bool on_ping(std::span<const std::uint8_t>) { return true; }
    void on_close(std::uint16_t code, std::string_view) {
        EXPECT_TRUE(code == close_code::kNoStatus || is_valid_close_code(code));
    }
};

TEST(CodecFuzz, RandomAndMutatedFramesNeverCrashLeakOrMisreport) {
    Generator gen(20261123);
    core::BlockPool pool;
    CommandParser parser(64);
    Sink sink{parser, 64};
    int frames = 0;
    std::size_t failures[3] = {0, 0, 0};  // 1002, 1007, 1009
    std::vector<std::uint8_t> buf;
    for (int i = 0; i < kStreams; ++i) {
        std::string wire = gen.stream(frames);
        if (i % 3 != 0) gen.mutate(wire);
        WsReader reader;
        const WsLimits limits{static_cast<std::uint64_t>(1 + gen.below(4096))};
        std::size_t at = 0;
        while (at < wire.size()) {
            const std::size_t take = 1 + gen.below(wire.size() - at);
            buf.assign(wire.begin() + static_cast<std::ptrdiff_t>(at),
                       wire.begin() + static_cast<std::ptrdiff_t>(at + take));
            buf.resize(take + core::Block::kPadding);
            const ReadResult r = reader.consume(buf.data(), take, sink, pool, limits);
            at += take;
            if (r.status == ReadStatus::kFailed) {
                ASSERT_TRUE(r.close_code == 1002 || r.close_code == 1007 || r.close_code == 1009)
                    << r.close_code;
                ++failures[r.close_code == 1002 ? 0 : r.close_code == 1007 ? 1 : 2];
                break;
            }
            if (r.status == ReadStatus::kClosed) break;
        }
        reader.release();
        ASSERT_EQ(pool.stats().live_blocks, 0u) << "stream " << i;
    }
    EXPECT_GE(frames, 200'000);
    // The inputs reach every outcome: delivered commands and each kind of failure.
    EXPECT_GT(sink.commands, 1000u);
    EXPECT_GT(failures[0], 100u);
    EXPECT_GT(failures[1], 10u);
    EXPECT_GT(failures[2], 100u);
    std::printf("frames %d, messages %zu, commands %zu, failed 1002/1007/1009: %zu/%zu/%zu\n",
                frames, sink.messages, sink.commands, failures[0], failures[1], failures[2]);
}

}  // namespace
}  // namespace herald::net
