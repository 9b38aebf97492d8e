// BM_Unmask_*: XOR unmasking of client payloads, a word at a time against byte at a time, and
// fused with the ASCII check of text payloads.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/unmask.h"

namespace {

constexpr std::uint8_t kKey[4] = {0x12, 0x34, 0x56, 0x78};

template <auto Fn>
void run(benchmark::State& state) {
    std::vector<std::uint8_t> data(static_cast<std::size_t>(state.range(0)) + 1, 0xAB);
    std::size_t phase = 0;
    for (auto _ : state) {
        // Offset by one byte: payloads follow a 2..14 byte header, so they are rarely aligned.
        phase = Fn(data.data() + 1, data.size() - 1, kKey, phase);
        benchmark::DoNotOptimize(data.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * state.range(0));
    state.counters["payloads/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// unmask_ascii() has no phase to return; the phase stays 0.
std::size_t unmask_ascii(std::uint8_t* data, std::size_t n, const std::uint8_t key[4],
                         std::size_t phase) noexcept {
    benchmark::DoNotOptimize(herald::core::unmask_ascii(data, n, key, phase));
    return phase;
}

void BM_Unmask_Word(benchmark::State& state) { run<herald::core::unmask>(state); }
void BM_Unmask_Bytewise(benchmark::State& state) { run<herald::core::unmask_bytewise>(state); }
// Unmasking fused with the ASCII check the reader does for text (the data alternates between
// masked and unmasked, and neither is ASCII: the check runs to the end either way).
void BM_Unmask_WordAscii(benchmark::State& state) { run<unmask_ascii>(state); }
BENCHMARK(BM_Unmask_Word)->Arg(64)->Arg(1024)->Arg(16384)->Arg(1 << 20);
BENCHMARK(BM_Unmask_Bytewise)->Arg(64)->Arg(1024)->Arg(16384)->Arg(1 << 20);
BENCHMARK(BM_Unmask_WordAscii)->Arg(64)->Arg(1024)->Arg(16384)->Arg(1 << 20);

}  // namespace
