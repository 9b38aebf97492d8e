// The counters one worker keeps; plain memory or shared memory, read by /stats.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/clock.h"
#include "core/counter.h"

namespace herald::net {

// A fixed-bucket histogram of durations, for GET /metrics. Lives in shared memory like the
// counters (no pointers, no allocation); written by one thread, read by any process. Bucket i
// counts the durations in (kBoundsNs[i-1], kBoundsNs[i]]; the last bucket those over every bound.
// The bounds, in seconds: 0.0001 0.00025 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 1.
struct DurationHistogram {
    static constexpr std::size_t kBounds = 12;
    static constexpr std::array<core::Nanos, kBounds> kBoundsNs = {
        100 * core::kMicrosecond, 250 * core::kMicrosecond,  500 * core::kMicrosecond,
        core::kMillisecond,       2500 * core::kMicrosecond, 5 * core::kMillisecond,
        10 * core::kMillisecond,  25 * core::kMillisecond,   50 * core::kMillisecond,
        100 * core::kMillisecond, 250 * core::kMillisecond,  core::kSecond};

    // Counts one duration of `d` nanoseconds (negative counts as 0).
    void record(core::Nanos d) noexcept {
        if (d < 0) d = 0;
        std::size_t i = 0;
        while (i < kBounds && d > kBoundsNs[i]) ++i;
        buckets[i].add();
        sum_ns.add(static_cast<std::uint64_t>(d));
    }

    std::array<core::Counter, kBounds + 1> buckets;  // per bucket, not cumulative; last: +Inf
    core::Counter sum_ns;                            // every recorded duration, summed
};

// Written only by its worker's loop thread; any process may read it (see core::Counter).
// Every field is documented in docs/OPERATIONS.md.
struct WorkerStats {
    core::Counter pid;
    core::Counter connections;    // open now (gauge)
    core::Counter groups;         // groups with a local member (gauge)
    core::Counter memberships;    // (connection, group) pairs (gauge)
    core::Counter accepted;       // TCP connections accepted
    core::Counter rejected;       // refused: --max-conns reached or no fixed-file slot
    core::Counter upgrades;       // successful WebSocket handshakes
    core::Counter http_errors;    // handshakes answered 4xx
    core::Counter http_requests;  // plain HTTP requests (e.g. /stats)
    core::Counter messages_in;    // WebSocket data messages received
    core::Counter bytes_in;
    core::Counter bytes_out;
    core::Counter commands_failed;      // error frames sent
    core::Counter publishes;            // send_to_group commands accepted here
    core::Counter remote_publishes;     // send_to_group events from other processes
    core::Counter deliveries;           // frames queued to group members
    core::Counter closes_backpressure;  // closed 1008: --max-backpressure exceeded
    core::Counter closes_flood;         // closed 1008: too many failed commands
    core::Counter closes_protocol;      // closed 1002 / 1007 / 1009
    core::Counter closes_timeout;       // handshake or closing handshake timed out
    core::Counter recv_no_buffers;      // multishot recv ran out of provided buffers
    // Accept to the 101 queued, per successful handshake (GET /metrics only, not /stats).
    DurationHistogram handshake;

    // Heartbeats and the upgrade gate (issue 15).
    core::Counter pings;                    // heartbeat pings sent to silent connections
    core::Counter closes_idle;              // closed 1001: silent past --idle-timeout
    core::Counter upgrades_refused_auth;    // upgrades answered 401: token missing or bad
    core::Counter upgrades_refused_origin;  // upgrades answered 403: --allowed-origins
    core::Counter upgrades_refused_per_ip;  // upgrades answered 503: --max-conns-per-ip
    core::Counter closes_lost_remote;       // closed 1013: a peer hub dropped frames of its group

    // Zero-copy sends (issue 18, --zerocopy-threshold).
    core::Counter zerocopy_sends;     // frames sent with IORING_OP_SEND_ZC
    core::Counter zerocopy_copied;    // of those, the kernel copied anyway (its notification said)
    core::Counter zerocopy_disabled;  // connections that stopped zero-copy: copied every time
    // Backpressure through the rings (issue 13).
    core::Counter backpressure_events;   // times the worker began holding its clients' input
    core::Counter backpressure_ns;       // nanoseconds spent holding it, summed
    core::Counter records_lapped;        // ring records this worker lost as a (stalled) reader
    core::Counter closes_undeliverable;  // closed 1013: this worker was lapped, messages lost
    // Not a counter (not in for_each_counter, /metrics or the totals): core::InterestDigest of
    // the groups with a local member, kept by GroupFanOut; /stats shows it as interest_hash.
    core::Counter interest_hash;
};

// Calls fn(name, counter) for every field, in declaration order: the one list that /stats,
// the docs and the tests share.
template <class Fn>
void for_each_counter(const WorkerStats& s, Fn&& fn) {
    fn("pid", s.pid);
    fn("connections", s.connections);
    fn("groups", s.groups);
    fn("memberships", s.memberships);
    fn("accepted", s.accepted);
    fn("rejected", s.rejected);
    fn("upgrades", s.upgrades);
    fn("http_errors", s.http_errors);
    fn("http_requests", s.http_requests);
    fn("messages_in", s.messages_in);
    fn("bytes_in", s.bytes_in);
    fn("bytes_out", s.bytes_out);
    fn("commands_failed", s.commands_failed);
    fn("publishes", s.publishes);
    fn("remote_publishes", s.remote_publishes);
    fn("deliveries", s.deliveries);
    fn("closes_backpressure", s.closes_backpressure);
    fn("closes_flood", s.closes_flood);
    fn("closes_protocol", s.closes_protocol);
    fn("closes_timeout", s.closes_timeout);
    fn("recv_no_buffers", s.recv_no_buffers);
    fn("pings", s.pings);
    fn("closes_idle", s.closes_idle);
    fn("upgrades_refused_auth", s.upgrades_refused_auth);
    fn("upgrades_refused_origin", s.upgrades_refused_origin);
    fn("upgrades_refused_per_ip", s.upgrades_refused_per_ip);
    fn("closes_lost_remote", s.closes_lost_remote);
    fn("zerocopy_sends", s.zerocopy_sends);
    fn("zerocopy_copied", s.zerocopy_copied);
    fn("zerocopy_disabled", s.zerocopy_disabled);
    fn("backpressure_events", s.backpressure_events);
    fn("backpressure_ns", s.backpressure_ns);
    fn("records_lapped", s.records_lapped);
    fn("closes_undeliverable", s.closes_undeliverable);
}

}  // namespace herald::net
