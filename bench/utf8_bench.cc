// BM_Utf8_*: UTF-8 validation of text payloads: ours (ASCII words, simdjson for non-ASCII runs,
// a DFA for short tails) against simdjson's SIMD validator alone, on ASCII and on mixed 1-4
// byte text.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>

#include "core/utf8.h"

namespace {

std::string ascii_text(std::size_t n) {
    std::string s;
    while (s.size() < n)
        s += "{\"cmd\":\"send_to_group\",\"group_id\":\"123\",\"message\":\"hi\"} ";
    s.resize(n);
    return s;
}

std::string mixed_text(std::size_t n) {
    std::string s;
    const char* pieces[] = {"plain ", "caf\xC3\xA9 ", "\xE2\x82\xAC\xE2\x98\x83 ",
                            "\xF0\x9F\x98\x80 ", "\xD0\xBF\xD1\x80\xD0\xB8 "};
    for (std::size_t i = 0; s.size() < n; ++i) s += pieces[i % 5];
    while (s.size() > n) s.pop_back();
    while (
        !herald::core::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())) {
        s.pop_back();
    }
    return s;
}

template <bool kSimdjson>
void validate(benchmark::State& state, const std::string& text) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
    for (auto _ : state) {
        bool ok = false;
        if constexpr (kSimdjson) {
            ok = simdjson::validate_utf8(text.data(), text.size());
        } else {
            ok = herald::core::is_valid_utf8(p, text.size());
        }
        benchmark::DoNotOptimize(ok);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
    state.counters["messages/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Utf8_Ascii(benchmark::State& s) {
    validate<false>(s, ascii_text(static_cast<std::size_t>(s.range(0))));
}
void BM_Utf8_Mixed(benchmark::State& s) {
    validate<false>(s, mixed_text(static_cast<std::size_t>(s.range(0))));
}
void BM_Utf8_SimdjsonAscii(benchmark::State& s) {
    validate<true>(s, ascii_text(static_cast<std::size_t>(s.range(0))));
}
void BM_Utf8_SimdjsonMixed(benchmark::State& s) {
    validate<true>(s, mixed_text(static_cast<std::size_t>(s.range(0))));
}
BENCHMARK(BM_Utf8_Ascii)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Utf8_Mixed)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Utf8_SimdjsonAscii)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Utf8_SimdjsonMixed)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace
