// What a worker shares with the other processes of its host: the seam between the event loop
// (net/) and the shared-memory channel (channel/).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/block.h"

namespace herald::net {

// Where records read from other processes' rings go: a worker's Server, or the hub. The reader
// calls it once per record, from its loop's thread.
class RecordSink {
  public:
    virtual ~RecordSink() = default;
    // Whether a message for `group` is wanted at all (else it is not even copied).
    virtual bool wants(std::string_view group) = 0;
    // The pool the reader builds frames for this sink in.
    virtual core::BlockPool& pool() = 0;
    // A whole message for `group` from process `from`, as a text frame (net::make_frame); the
    // sink takes its own references.
    virtual void deliver(std::uint32_t from, std::string_view group, core::Block* frame) = 0;
    // Process `from`'s first local member joined `group` (joined) or its last one left.
    virtual void interest(std::uint32_t /*from*/, std::string_view /*group*/, bool /*joined*/) {}
    // Process `from` (re)started with no members: forget its interest.
    virtual void reset(std::uint32_t /*from*/) {}
    // Process `from` (the hub) asks for this worker's whole interest set (it (re)started, or it
    // missed records): announce every group with a local member again, framed by
    // Relay::interest_set().
    virtual void resync(std::uint32_t /*from*/) {}
    // Process `from` begins (begin) or ends (!begin) its whole interest set (hub).
    virtual void interest_set(std::uint32_t /*from*/, bool /*begin*/) {}
    // Process `from` (the hub) learned that a peer hub dropped messages for `group` (empty:
    // for every group): its members here are closed with 1013, since they missed some.
    virtual void lost(std::uint32_t /*from*/, std::string_view /*group*/) {}
    // Process `from`'s writer lapped this reader: `records` of its records were never read, for
    // groups nobody can tell any more.
    virtual void lapped(std::uint32_t /*from*/, std::uint64_t /*records*/) {}
};

// A worker's link to the rest of herald. The loop calls it from its one thread:
//   each pass:      poll() (deliver what others published), then flush() after its own sends
//   before blocking: prepare_to_sleep(); after waking: woke()
// A single-process herald has none.
class Relay {
  public:
    virtual ~Relay() = default;

    // A send_to_group accepted on this worker (after local delivery): tell every other process.
    virtual void publish(std::string_view group, std::span<const std::uint8_t> message) = 0;
    // The first local member joined `group` (joined) or the last one left (!joined).
    virtual void interest(std::string_view group, bool joined) = 0;
    // Frames this worker's whole interest set (the answer to RecordSink::resync): begin before
    // the first interest(group, true) of the set, end after the last. Live interest() calls
    // may come in between.
    virtual void interest_set(bool /*begin*/) {}
    // True when a record written now goes straight into shared memory (nothing waits for
    // space): a long answer is written only as fast as it is read.
    virtual bool can_write() const { return true; }

    // Delivers what other processes published since the last call into `sink` (a few hundred
    // records per process at most). Returns true when it read anything.
    virtual bool poll(RecordSink& sink) = 0;
    // True when other processes published something poll() has not taken yet. Cheap: a few
    // shared-memory loads, for spinning.
    virtual bool pending() const = 0;
    // Retries what could not be published yet and wakes sleeping readers of what was.
    virtual void flush() = 0;
    // True while what this worker published waits for ring space beyond a small bound (a
    // reader of its ring is behind): the worker then takes no new commands from its clients
    // (so TCP pushes back on them) and calls flush() at least every loop tick until it clears.
    virtual bool congested() const { return false; }

    // About to block: announce it so publishers write wake_fd(). Returns false (and stays
    // awake) when something arrived meanwhile.
    virtual bool prepare_to_sleep() = 0;
    virtual void woke() = 0;
    // An eventfd other processes write to wake this loop; the loop keeps a read armed on it.
    virtual int wake_fd() const = 0;
    // How long the loop spins on pending() before it blocks (nanoseconds).
    virtual std::int64_t spin_ns() const = 0;
};

}  // namespace herald::net
