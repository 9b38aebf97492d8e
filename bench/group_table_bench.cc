// BM_GroupTable_*: joins, leaves and lookups in the group table.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/group_table.h"

namespace {

using herald::core::GroupTable;

std::vector<std::string> group_names(std::size_t n) {
    std::vector<std::string> names;
    names.reserve(n);
    for (std::size_t i = 0; i < n; ++i) names.push_back("group-" + std::to_string(i));
    return names;
}

// One join and one leave of a member into a group of state.range(0) members.
void BM_GroupTable_JoinLeave(benchmark::State& state) {
    GroupTable table;
    const auto members = static_cast<std::uint32_t>(state.range(0));
    for (std::uint32_t m = 0; m < members; ++m) table.join(m, "g", 16);
    for (auto _ : state) {
        table.join(members, "g", 16);
        table.leave(members, "g");
    }
    state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2,
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GroupTable_JoinLeave)->Arg(10)->Arg(10'000);

// A lookup of one of state.range(0) groups by name, as send_to_group does.
void BM_GroupTable_Lookup(benchmark::State& state) {
    GroupTable table;
    const auto names = group_names(static_cast<std::size_t>(state.range(0)));
    for (std::uint32_t i = 0; i < names.size(); ++i) table.join(i, names[i], 16);
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(table.members(names[i]).data());
        if (++i == names.size()) i = 0;
    }
    state.counters["lookups/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GroupTable_Lookup)->Arg(100)->Arg(100'000);

// A member in state.range(0) groups leaving all of them (a connection closing).
void BM_GroupTable_LeaveAll(benchmark::State& state) {
    GroupTable table;
    const auto names = group_names(static_cast<std::size_t>(state.range(0)));
    for (std::uint32_t m = 0; m < 4; ++m) {
        for (const auto& n : names) table.join(m, n, names.size());
    }
    for (auto _ : state) {
        for (const auto& n : names) table.join(9, n, names.size());
        table.leave_all(9);
    }
}
BENCHMARK(BM_GroupTable_LeaveAll)->Arg(1)->Arg(64);

}  // namespace
