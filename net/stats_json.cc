#include "net/stats_json.h"

#include <cstdint>
#include <vector>

namespace herald::net {

std::string render_stats_json(std::span<const StatsEntry> workers) {
    std::string json = "{\"workers\":[";
    std::vector<std::uint64_t> totals;
    for (const StatsEntry& w : workers) {
        if (&w != workers.data()) json += ',';
        json += "{\"worker\":" + std::to_string(w.worker);
        std::size_t i = 0;
        for_each_counter(*w.stats, [&](const char* name, const core::Counter& counter) {
            const std::uint64_t v = counter.get();
            json += ",\"";
            json += name;
            json += "\":";
            json += std::to_string(v);
            if (totals.size() <= i) totals.push_back(0);
            totals[i++] += v;
        });
        json += ",\"interest_hash\":" + std::to_string(w.stats->interest_hash.get());
        json += w.extra;
        json += '}';
    }
    json += "],\"totals\":{\"workers\":" + std::to_string(workers.size());
    if (!workers.empty()) {
        std::size_t i = 0;
        for_each_counter(*workers.front().stats, [&](const char* name, const core::Counter&) {
            const std::uint64_t v = totals[i++];
            if (std::string_view(name) == "pid") return;
            json += ",\"";
            json += name;
            json += "\":";
            json += std::to_string(v);
        });
    }
    json += "}}\n";
    return json;
}

}  // namespace herald::net
