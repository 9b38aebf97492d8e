// The one shared-memory region of a multi-process herald host: per-process counters and one
// ring per writing process, created by the master before it forks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "channel/shm_ring.h"
#include "channel/window_mirror.h"
#include "core/result.h"
#include "net/worker_stats.h"

namespace herald::channel {

// Region layout (offsets from the start of the mapping; every block 64-byte aligned):
//
//  +0                    RegionHeader        magic, process count, ring capacity
//  +64                   ProcessSlot[P]      counters and liveness of process p
//  +64+P*sizeof(slot)    ring 0 ... ring P-1 ShmRing::footprint(capacity, P) bytes each
//  after the rings       OriginSeq[kMaxOrigins] the hub's seqs per peer node (received, sent)
//  after them            window slot 0 ... W-1  copies of the first W entries' AckWindows
//                                              (channel/window_mirror.h), W = window_slots
//
// Process p writes ring p and reads every other ring through its reader slot p (its own slot
// in its own ring is never attached). P = workers (+ the hub, once there is one).
struct alignas(kCacheLine) RegionHeader {
    std::uint64_t magic;
    std::uint32_t processes;
    std::uint64_t ring_capacity;
    // The hub's incarnation (its HELLO's), chosen by its first process and kept by every
    // restarted one, so that its seqs to each peer go on (0: no hub has run yet).
    std::atomic<std::uint64_t> hub_incarnation;
};

struct alignas(kCacheLine) ProcessSlot {
    net::WorkerStats stats;               // written by the process itself
    std::atomic<std::uint32_t> ready;     // 1 once its loop is listening (set by the process)
    std::atomic<std::uint32_t> restarts;  // times the master restarted it
    std::atomic<std::int64_t> pid;        // set by the master at fork
};

// The hub's seqs for one peer node (written only by the hub; they outlive a hub restart, so a
// restarted hub still drops what it delivered before, and numbers what it sends on from where
// its previous process stopped). node 0: a free entry.
struct alignas(kCacheLine) OriginSeq {
    std::atomic<std::uint32_t> node;
    std::atomic<std::uint64_t> incarnation;  // the peer hub's HELLO incarnation
    std::atomic<std::uint64_t> last_seq;     // the last PUBLISH/LOST seq delivered (0: none)
    // Our side, in RegionHeader::hub_incarnation's numbering: the next seq to hand out to this
    // peer (stored before a frame with the seq before it can reach a socket; 0: none handed out
    // yet) and the last seq it acknowledged.
    std::atomic<std::uint64_t> send_next;
    std::atomic<std::uint64_t> send_acked;
};
constexpr std::uint32_t kMaxOrigins = 256;  // peer nodes remembered (beyond: not across restarts)

class ShmRegion {
  public:
    // Creates and maps an anonymous shared region (memfd) for `processes` processes with rings
    // of `ring_capacity` bytes (a power of two), and `window_slots` (at most kMaxOrigins) copies
    // of peer windows of `window_capacity` bytes each (pages are only taken as they are
    // written). Children inherit the mapping across fork. An error is one line.
    static core::Result<ShmRegion> create(std::uint32_t processes, std::uint64_t ring_capacity,
                                          std::uint32_t window_slots = 0,
                                          std::size_t window_capacity = 0);

    ShmRegion() = default;
    ShmRegion(ShmRegion&& other) noexcept;
    ShmRegion& operator=(ShmRegion&& other) noexcept;
    ~ShmRegion();

    std::uint32_t processes() const noexcept { return header_->processes; }
    ProcessSlot& process(std::uint32_t p) const noexcept { return slots_[p]; }
    ShmRing ring(std::uint32_t p) const noexcept;
    // The kMaxOrigins entries of the hub's receive state.
    OriginSeq* origins() const noexcept { return origins_; }
    std::atomic<std::uint64_t>& hub_incarnation() const noexcept {
        return header_->hub_incarnation;
    }
    // The copy of the AckWindow of origins()[i]'s peer, for i < window_slots().
    std::uint32_t window_slots() const noexcept { return window_slots_; }
    WindowMirror window(std::uint32_t i) const noexcept;
    std::size_t size() const noexcept { return size_; }

  private:
    void* base_ = nullptr;
    std::size_t size_ = 0;
    RegionHeader* header_ = nullptr;
    ProcessSlot* slots_ = nullptr;
    std::size_t ring_stride_ = 0;
    std::uint8_t* rings_ = nullptr;
    OriginSeq* origins_ = nullptr;
    std::uint8_t* windows_ = nullptr;
    std::uint32_t window_slots_ = 0;
    std::size_t window_capacity_ = 0;
};

}  // namespace herald::channel
