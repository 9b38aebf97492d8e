// The counters one worker keeps; plain memory or shared memory, read by /stats.
#pragma once

#include <cstdint>

#include "core/counter.h"

namespace herald::net {

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
    core::Counter closes_lost_remote;   // closed 1013: a peer hub dropped frames of its group
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
    fn("closes_lost_remote", s.closes_lost_remote);
}

}  // namespace herald::net
