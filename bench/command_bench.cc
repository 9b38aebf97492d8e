// BM_CommandParse_*: parsing client commands (simdjson DOM, in place, warm parser).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/command.h"

namespace {

using herald::net::CommandParser;
using herald::net::ErrorCode;
using herald::net::ParseResult;

constexpr std::size_t kPadding = 64;  // core::Block::kPadding

// A command text followed by kPadding readable bytes, as frame payloads are.
class Padded {
  public:
    explicit Padded(std::string_view text) : size_(text.size()), bytes_(text.size() + kPadding) {
        std::memcpy(bytes_.data(), text.data(), text.size());
    }
    std::span<const std::uint8_t> span() const noexcept { return {bytes_.data(), size_}; }

  private:
    std::size_t size_;
    std::vector<std::uint8_t> bytes_;
};

// Parses `text` once per iteration; reports commands/s and bytes/s.
void run(benchmark::State& state, std::string_view text) {
    CommandParser parser(128);
    const Padded input(text);
    if (parser.parse(input.span()).error != ErrorCode::kNone) {
        state.SkipWithError("the benchmark command does not parse");
        return;
    }
    for (auto _ : state) {
        ParseResult r = parser.parse(input.span());
        benchmark::DoNotOptimize(r);
    }
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetBytesProcessed(iterations * static_cast<std::int64_t>(text.size()));
    state.counters["commands/s"] =
        benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kIsRate);
}

std::string send_to_group(std::string_view message) {
    return R"({"cmd":"send_to_group", "group_id":"123", "message":")" + std::string(message) +
           R"("})";
}

// The seed's join command.
void BM_CommandParse_AddGroup(benchmark::State& state) {
    run(state, R"({"cmd":"add_group", "group_id":"123"})");
}
BENCHMARK(BM_CommandParse_AddGroup);

// A send_to_group whose message is state.range(0) bytes of plain text.
void BM_CommandParse_SendToGroup(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    std::string message;
    message.reserve(size);
    while (message.size() < size) message += "C'est le message. ";
    message.resize(size);
    run(state, send_to_group(message));
}
BENCHMARK(BM_CommandParse_SendToGroup)->Arg(64)->Arg(1024)->Arg(16384);

// A 4 KiB send_to_group message that is mostly escapes: quotes, backslashes, newlines, \u00e9
// and surrogate pairs, as a JSON payload forwarded inside a message would be.
void BM_CommandParse_Escaped(benchmark::State& state) {
    std::string message;
    while (message.size() < 4096) message += R"(\"k\":\"caf\u00e9 \ud83d\ude00\\n\"\n)";
    run(state, send_to_group(message));
}
BENCHMARK(BM_CommandParse_Escaped);

}  // namespace
