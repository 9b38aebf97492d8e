// BM_Handshake_*: the CPU cost of answering one WebSocket opening handshake.
#include <benchmark/benchmark.h>

#include <string_view>

#include "net/http_handshake.h"

namespace {

using namespace herald::net;

// A Chrome upgrade head, as captured from a real browser.
constexpr std::string_view kBrowserHead =
    "GET /chat HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://localhost:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

// Finding the head's end, judging it and computing Sec-WebSocket-Accept (not the response).
void BM_Handshake_Parse(benchmark::State& state) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(kBrowserHead.data());
    for (auto _ : state) {
        std::size_t from = 0;
        const std::size_t end = find_head_end(bytes, kBrowserHead.size(), from);
        const RequestHead head = parse_request_head(kBrowserHead.substr(0, end));
        auto accept = websocket_accept(head.key);
        benchmark::DoNotOptimize(accept);
    }
    state.counters["handshakes/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(kBrowserHead.size()));
}
BENCHMARK(BM_Handshake_Parse);

}  // namespace
