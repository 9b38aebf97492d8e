// The worker's side of the shared-memory channel: publishes its send_to_group events into its
// own ring and delivers what the other processes' rings carry to its local members.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "channel/ring_record.h"
#include "channel/shm_region.h"
#include "core/block.h"
#include "core/clock.h"
#include "net/relay.h"

namespace herald::channel {

// Where records read from the rings go: a worker's Server, or the hub (net/relay.h).
using RecordSink = net::RecordSink;

struct RelayOptions {
    core::Nanos spin = 5 * core::kMicrosecond;  // --spin: spin on the rings before sleeping
    std::size_t overflow_limit = 4u << 20;      // bytes of records waiting for ring space
    core::Nanos stall_bound = core::kSecond;    // --ring-stall: lap a reader still this long
    std::size_t congestion_bytes = 256u << 10;  // overflow bytes past which publishers wait
    std::size_t poll_budget = 256;              // records per ring per loop pass
    bool interest = false;  // write interest and reset records (a hub reads them)
};

class ShmRelay final : public net::Relay {
  public:
    // Process `self` of `region`; wake_fds[p] is process p's eventfd.
    ShmRelay(const ShmRegion& region, std::uint32_t self, std::vector<int> wake_fds,
             const RelayOptions& options);
    ~ShmRelay() override;
    ShmRelay(const ShmRelay&) = delete;
    ShmRelay& operator=(const ShmRelay&) = delete;

    // Starts reading every other ring at its current tail; with `resume`, at the head a
    // previous process left in its reader slot where that slot is still attached (the hub: its
    // slots outlive it). A worker then announces its (re)start with a reset record, so the hub
    // forgets what an earlier incarnation joined.
    void attach(bool resume = false);
    void announce_reset();
    // The hub asks for whole interest sets: of every worker (it (re)started; the default), or
    // of process `worker` only (it missed records of that worker's ring).
    static constexpr std::uint32_t kEveryWorker = UINT32_MAX;
    void announce_resync(std::uint32_t worker = kEveryWorker);
    // True (once per event) when this reader of process p's ring lost records since the last
    // call: the writer lapped it (its lap floor moved), or a record would not parse (a chunk
    // whose start was lapped). Cheap: two loads.
    bool take_missed(std::uint32_t p);

    // Reads what the other processes wrote into `sink`; true when anything was read.
    bool poll_into(RecordSink& sink);

    // Writes one record of `type` (no payload beyond `group`).
    void write_control(RecordType type, std::uint16_t flags, std::string_view group);

    void publish(std::string_view group, std::span<const std::uint8_t> message) override;
    void interest(std::string_view group, bool joined) override;
    void interest_set(bool begin) override;
    bool can_write() const override { return writer_.idle(); }
    // Records written into our ring so far, and of those the ones the ring holds (the rest wait
    // in the overflow queue and die with this process): RingWriter::records_written()/placed().
    std::uint64_t records_issued() const noexcept { return writer_.records_written(); }
    std::uint64_t records_placed() const noexcept { return writer_.records_placed(); }
    // During poll_into(): where the record of process p's ring being delivered starts.
    std::uint64_t reading_at(std::uint32_t p) const noexcept { return readers_[p].position(); }
    bool poll(net::RecordSink& sink) override { return poll_into(sink); }
    bool pending() const override;
    void flush() override;
    bool congested() const override { return writer_.overflow_bytes() > options_.congestion_bytes; }
    bool prepare_to_sleep() override;
    void woke() override;
    int wake_fd() const override { return wake_fds_[self_]; }
    std::int64_t spin_ns() const override { return options_.spin; }

  private:
    struct Visitor;
    // A chunked message being reassembled from ring `r`.
    struct Partial {
        core::Block* frame = nullptr;  // reserve_frame()d for the whole message
        std::uint32_t filled = 0;      // message bytes so far
        std::uint32_t total = 0;
        std::string group;
    };

    // Tells `sink` once about records of ring p this reader lost since the last report.
    void report_lapped(std::uint32_t p, RecordSink& sink);

    std::uint32_t self_;
    std::vector<int> wake_fds_;
    RelayOptions options_;
    RingWriter writer_;
    std::vector<RingReader> readers_;            // one per other process (index: process id)
    std::vector<std::uint32_t> peers_;           // the process ids read, in order
    std::vector<Partial> partials_;              // indexed by process id
    std::vector<std::uint64_t> seen_floor_;      // take_missed(): lap floor last seen, per ring
    std::vector<std::uint64_t> seen_malformed_;  // and malformed records
    std::vector<std::uint64_t> drops_;           // our slot's drops per ring, as last reported
    std::string group_;                          // the current record's group id (reused)
    std::vector<std::uint8_t> prefix_;  // PublishHeader + group id of the record being written
    bool published_ = false;            // records written since the last wake-up check
};

}  // namespace herald::channel
