// BM_WsParse_* and BM_WsEncode_*: the WebSocket reader over a buffer of masked client frames
// (header decode, checks, unmask, UTF-8), and encoding one server frame into a pool block.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/unmask.h"
#include "net/ws_reader.h"

namespace {

using namespace herald;

struct CountingHandler {
    std::size_t messages = 0;
    bool on_message(net::Opcode, std::span<const std::uint8_t> p) {
        benchmark::DoNotOptimize(p.data());
        ++messages;
        return true;
    }
    bool on_ping(std::span<const std::uint8_t>) { return true; }
    void on_close(std::uint16_t, std::string_view) {}
};

// `count` masked text frames of `size` bytes of JSON-like ASCII, back to back. Key and payload
// bytes are all below 0x80, so the payload is ASCII both masked and unmasked.
std::vector<std::uint8_t> frames(std::size_t size, std::size_t count) {
    const std::uint8_t key[4] = {0x19, 0x58, 0x27, 0x36};
    const std::string_view text = R"({"cmd":"send_to_group","group_id":"g42","message":"hello"} )";
    std::string payload;
    while (payload.size() < size) payload += text;
    payload.resize(size);
    core::unmask(reinterpret_cast<std::uint8_t*>(payload.data()), size, key);
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i < count; ++i) {
        std::uint8_t head[net::kMaxClientHeader];
        const std::size_t n = net::encode_client_header(head, net::Opcode::kText, size, key);
        out.insert(out.end(), head, head + n);
        out.insert(out.end(), payload.begin(), payload.end());
    }
    return out;
}

// The reader unmasks payloads in place and leaves headers alone, so consuming the buffer again
// unmasks it back: every iteration does the same work (headers, checks, unmask, UTF-8
// validation of ASCII text, delivery) on a buffer that stays hot in cache, with nothing to
// restore between iterations.
void parse(benchmark::State& state, std::size_t size, std::size_t count) {
    std::vector<std::uint8_t> buf = frames(size, count);
    const std::size_t n = buf.size();
    buf.resize(n + core::Block::kPadding);
    core::BlockPool pool;
    net::WsReader reader;
    CountingHandler handler;
    const net::WsLimits limits{1 << 20};
    for (auto _ : state) {
        const net::ReadResult r = reader.consume(buf.data(), n, handler, pool, limits);
        benchmark::DoNotOptimize(r);
    }
    reader.release();
    if (handler.messages != static_cast<std::size_t>(state.iterations()) * count)
        state.SkipWithError("frames were lost");
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(n));
    state.counters["frames/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(count),
                           benchmark::Counter::kIsRate);
}

void BM_WsParse_Text64(benchmark::State& state) { parse(state, 64, 256); }
void BM_WsParse_Text16K(benchmark::State& state) { parse(state, 16384, 4); }
BENCHMARK(BM_WsParse_Text64);
BENCHMARK(BM_WsParse_Text16K);

void BM_WsEncode(benchmark::State& state) {
    const std::string payload(static_cast<std::size_t>(state.range(0)), 'e');
    const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(payload.data()),
                                              payload.size()};
    core::BlockPool pool;
    for (auto _ : state) {
        core::Block* f = net::make_frame(pool, net::Opcode::kText, bytes);
        benchmark::DoNotOptimize(f->bytes());
        f->unref();
    }
    state.SetBytesProcessed(state.iterations() * state.range(0));
    state.counters["frames/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WsEncode)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace
