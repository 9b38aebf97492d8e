// The memory herald-load's coordinator shares with its load processes (MAP_SHARED, made before
// fork): the phase they move through together, live counters for the progress line, each
// process's results, and per group the members no probe has reached yet.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/histogram.h"

namespace herald::load {

// The phases, in order. The coordinator moves `phase` forward when every process reports the
// status that ends the current one.
enum Phase : std::uint32_t {
    kConnect = 0,  // processes connect and join; status kJoined when done
    kConfirm,      // group leaders send probes until every member got one; status kConfirmed
    kRun,          // the scenario runs from t0 to end; status kSent when its sending is over
    kDrain,        // stragglers arrive; status kDrained when quiet
    kReport,       // results are written to the slot; status kReported, then exit
    kAbort,        // something failed: write what you have and exit
};

enum Status : std::uint32_t { kStarting = 0, kJoined, kConfirmed, kSent, kDrained, kReported };

struct alignas(64) ProcessSlot {
    std::atomic<std::uint32_t> status{kStarting};
    // Live, for the progress line (relaxed).
    std::atomic<std::uint64_t> open{0};
    std::atomic<std::uint64_t> confirmed{0};
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> errors{0};
    // Results, written once before status kReported.
    core::Histogram latency;   // delivery latency of measured messages (ns)
    core::Histogram lateness;  // how late each measured send was against its schedule
    std::uint64_t measured_deliveries = 0;
    std::uint64_t measured_sent = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t reorders = 0;
    std::uint64_t error_frames = 0;  // {"error":...} frames received
    std::uint64_t failed_conns = 0;  // could not connect or upgrade
    std::uint64_t closed_conns = 0;  // closed by the server during the run
    std::uint64_t unconfirmed = 0;   // members that never got a probe (joins ignored?)
    std::uint64_t probes_sent = 0;   // confirm phase: probes this process's leaders sent
    std::uint64_t cycles = 0;        // churn: completed connect-join-publish-close cycles
    std::int64_t cpu_ns = 0;         // this process's CPU time in the measured window
};

struct SharedHeader {
    std::atomic<std::uint32_t> phase{kConnect};
    std::atomic<std::int64_t> t0{0};             // start of the run (CLOCK_MONOTONIC)
    std::atomic<std::int64_t> measure_start{0};  // t0 + warmup
    std::atomic<std::int64_t> measure_end{0};    // measure_start + duration
};

// Layout: SharedHeader, ProcessSlot[procs], then per publisher p: sent[p], then per publisher:
// unique deliveries[p] and receiving connections[p] (sums over processes), then per group g:
// unconfirmed[g].
struct SharedView {
    SharedHeader* header;
    ProcessSlot* slots;
    std::atomic<std::uint64_t>* publisher_sent;
    std::atomic<std::uint64_t>* publisher_unique;
    std::atomic<std::uint64_t>* publisher_receivers;
    // Members of group g, in every process, that started connecting and have neither been
    // confirmed by a probe nor died since (see Loader::settle); the leader of g probes only
    // while it is above 0.
    std::atomic<std::int32_t>* group_unconfirmed;

    // Bytes to map for `procs` processes, `publishers` publishers and `groups` groups.
    static std::size_t bytes(std::uint32_t procs, std::uint32_t publishers, std::uint32_t groups) {
        return sizeof(SharedHeader) + 64 + procs * sizeof(ProcessSlot) +
               3 * publishers * sizeof(std::atomic<std::uint64_t>) +
               groups * sizeof(std::atomic<std::int32_t>);
    }
    // Constructs every part, zeroed, in `memory` (at least bytes() long, page aligned).
    static SharedView create(void* memory, std::uint32_t procs, std::uint32_t publishers,
                             std::uint32_t groups);
};

}  // namespace herald::load
