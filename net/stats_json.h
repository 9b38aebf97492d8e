// GET /stats: the JSON rendering of every worker's counters and their totals.
#pragma once

#include <span>
#include <string>

#include "net/worker_stats.h"

namespace herald::net {

struct StatsEntry {
    unsigned worker = 0;
    const WorkerStats* stats = nullptr;
    std::string extra;  // further fields of this worker, JSON members each preceded by ','
};

// {"workers":[{"worker":0,"pid":...,<counters>,"interest_hash":H,<extra>},...],
// "totals":{<counters summed>}}
// followed by a newline. Totals sum every counter but pid (interest_hash is not a counter).
std::string render_stats_json(std::span<const StatsEntry> workers);

}  // namespace herald::net
