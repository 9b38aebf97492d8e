// A single-producer, multi-consumer ring of records in shared memory: how one process hands
// send_to_group events to every other process on the host.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "core/assert.h"
#include "core/clock.h"

namespace herald::channel {

// ---------------------------------------------------------------------------------------------
// Layout of one ring in shared memory (every block on its own 64-byte cache line):
//
//  +0        RingControl   magic, capacity, readers             constants, written once
//  +64       tail          bytes ever published (u64)          written by the producer only
//  +128      waiting       the producer waits for space (u32)  set by it, cleared by a reader
//  +192      ReaderSlot 0  head, lap_floor, drops, alive, sleeping   one line per reader
//  +256      ReaderSlot 1  ...
//  ...
//  +192+64R  data          `capacity` bytes (a power of two), records back to back
//
// Positions (tail, head, lap_floor) count bytes since the ring was made and never wrap; a
// position's place in `data` is pos & (capacity - 1).
//
// A record, 8-byte aligned:
//
//  0               4       6       8
//  +---------------+-------+-------+----------------------+
//  |  length (u32) | type  | flags |  payload ... (pad 8) |
//  +---------------+-------+-------+----------------------+
//
// `length` counts payload bytes; the record takes align8(8 + length) bytes. A record never
// wraps: when it does not fit before the end of `data`, a kPadding record fills the rest and the
// record starts at offset 0.
// ---------------------------------------------------------------------------------------------

// One line per block. Reader slots padded to 128 bytes (adjacent-line prefetch pairs, as Aeron
// and folly do) measured no better beyond noise in BM_ShmRing_* (issue 12), so they stay 64.
constexpr std::size_t kCacheLine = 64;

struct RecordHeader {
    std::uint32_t length;  // payload bytes
    std::uint16_t type;    // RecordType
    std::uint16_t flags;   // type-specific
};
static_assert(sizeof(RecordHeader) == 8);
constexpr std::size_t kRecordHeaderSize = sizeof(RecordHeader);
constexpr std::uint16_t kPaddingRecord = 0;  // skip to the start of data

constexpr std::size_t record_size(std::size_t payload) noexcept {
    return (kRecordHeaderSize + payload + 7) & ~std::size_t{7};
}

struct alignas(kCacheLine) RingControl {
    std::uint64_t magic;
    std::uint64_t capacity;  // bytes of data, a power of two
    std::uint32_t readers;   // ReaderSlots that follow
};

struct alignas(kCacheLine) RingTail {
    std::atomic<std::uint64_t> tail;  // records below it are complete and visible
};

struct alignas(kCacheLine) RingWaiting {
    std::atomic<std::uint32_t> waiting;  // 1: records wait in the producer's overflow queue
};

struct alignas(kCacheLine) ReaderSlot {
    std::atomic<std::uint64_t> head;       // the reader consumed everything below
    std::atomic<std::uint64_t> lap_floor;  // set by the producer: records below were dropped
    std::atomic<std::uint64_t> drops;      // records this reader lost (written by the producer)
    std::atomic<std::uint32_t> alive;      // 1: the producer must not overwrite unread records
    std::atomic<std::uint32_t> sleeping;   // 1: the reader waits on its eventfd
};
static_assert(sizeof(RingControl) == kCacheLine && sizeof(RingTail) == kCacheLine &&
              sizeof(RingWaiting) == kCacheLine && sizeof(ReaderSlot) == kCacheLine);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free &&
              std::atomic<std::uint32_t>::is_always_lock_free);

constexpr std::size_t kControlOffset = 0;
constexpr std::size_t kTailOffset = kCacheLine;
constexpr std::size_t kWaitingOffset = 2 * kCacheLine;
constexpr std::size_t kReadersOffset = 3 * kCacheLine;
constexpr std::uint64_t kRingMagic = 0x68657261'6c64'7231;  // "herald" r1

// A ring placed in (shared) memory. Cheap to copy: it only points.
class ShmRing {
  public:
    // Bytes a ring with `capacity` data bytes and `readers` reader slots occupies.
    static std::size_t footprint(std::uint64_t capacity, std::uint32_t readers) noexcept {
        return kReadersOffset + std::size_t{readers} * kCacheLine + capacity;
    }
    // Formats a ring at `memory` (footprint() bytes, 64-byte aligned, zeroed). No reader is
    // alive until it attaches.
    static ShmRing create(void* memory, std::uint64_t capacity, std::uint32_t readers);
    // Views a ring that create() formatted (possibly in another process's mapping).
    explicit ShmRing(void* memory);
    ShmRing() = default;

    std::uint64_t capacity() const noexcept { return capacity_; }
    std::uint32_t readers() const noexcept { return readers_; }
    RingTail& tail() const noexcept { return *tail_; }
    RingWaiting& waiting() const noexcept { return *waiting_; }
    ReaderSlot& reader(std::uint32_t i) const noexcept {
        HERALD_DCHECK(i < readers_);
        return slots_[i];
    }
    std::uint8_t* data() const noexcept { return data_; }

    // Reader `i` starts at the current tail and holds the producer back from now on.
    void attach(std::uint32_t i) const noexcept;
    // Reader `i` is gone (the master saw it die): it no longer holds the producer back.
    void detach(std::uint32_t i) const noexcept;
    // Unread bytes of reader i (0 when not alive).
    std::uint64_t lag(std::uint32_t i) const noexcept;

  private:
    std::uint64_t capacity_ = 0;
    std::uint32_t readers_ = 0;
    RingTail* tail_ = nullptr;
    RingWaiting* waiting_ = nullptr;
    ReaderSlot* slots_ = nullptr;
    std::uint8_t* data_ = nullptr;
};

// The producer side. One per ring, in the one process that writes it.
//
// When the slowest live reader is a full ring behind, records wait in a local overflow queue
// and are retried by flush(). A live reader that makes progress, however slowly, is never
// lapped: its writer is congested (overflow_bytes() grows) and the caller pushes back on its own
// sources (a worker stops reading its clients, net/relay.h). Only a reader that holds the
// producer back without moving its head for `stall_bound` (stopped, stuck) is lapped: its
// lap_floor jumps past the records that must be overwritten, and its `drops` counts what it
// lost. So a stalled reader delays the others by at most stall_bound, and fast readers never
// lose a record because of a slow one. `overflow_limit` is a hard bound on the queue's bytes,
// reached only by a writer that ignores congestion: past it every reader holding the producer
// back is lapped at once.
class RingWriter {
  public:
    static constexpr core::Nanos kDefaultStallBound = core::kSecond;

    RingWriter(ShmRing ring, std::size_t overflow_limit,
               core::Nanos stall_bound = kDefaultStallBound);
    RingWriter() = default;

    // Largest payload one record may carry.
    std::size_t max_payload() const noexcept { return max_payload_; }

    // Appends a record whose payload is `a` then `b` (so callers need not join them).
    // Order is kept: while records wait in the overflow queue, new ones queue behind them.
    // `now` is the monotonic time (core::now_ns()), passed in so tests control it.
    void write(std::uint16_t type, std::uint16_t flags, std::span<const std::uint8_t> a,
               std::span<const std::uint8_t> b = {}, core::Nanos now = core::now_ns());

    // Moves queued records into the ring as space allows, lapping a reader that held the
    // producer back without progress for stall_bound. Returns true when none is left; otherwise
    // the ring's `waiting` flag is set, so the next reader to free space says so
    // (RingReader::take_waiting()). While it returns false, call it again at least every
    // stall_bound / 10 (a loop tick), so a stalled reader is lapped on time.
    bool flush(core::Nanos now = core::now_ns());
    bool idle() const noexcept { return overflow_.empty(); }
    // Records write() took since this writer was made, and of those the ones now in the ring
    // (the rest wait in the overflow queue, in order): the k-th record written is in the ring
    // once records_placed() >= k.
    std::uint64_t records_written() const noexcept { return written_; }
    std::uint64_t records_placed() const noexcept { return written_ - overflow_.size(); }
    std::size_t overflow_bytes() const noexcept { return overflow_bytes_; }

    // Calls wake(reader index) for each live reader that went to sleep, clearing its flag.
    // Call after publishing a batch.
    template <class Wake>
    void wake_sleepers(Wake&& wake) {
        // seq_cst fence: our tail store is ordered before the sleeping loads, pairing with the
        // reader's seq_cst sleeping store before it re-reads the tail (Dekker): either the
        // reader sees the new tail, or we see it asleep.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        for (std::uint32_t i = 0; i < ring_.readers(); ++i) {
            ReaderSlot& r = ring_.reader(i);
            // relaxed check first: skipping a waking reader costs nothing.
            if (r.sleeping.load(std::memory_order_relaxed) == 0) continue;
            if (r.sleeping.exchange(0, std::memory_order_acq_rel) == 1) wake(i);
        }
    }

    std::uint64_t lapped_records() const noexcept { return lapped_records_; }
    // Stalls that ended in a lap (a reader lapped again before it moved counts once).
    std::uint64_t stalls() const noexcept { return stalls_; }

  private:
    bool try_append(std::uint16_t type, std::uint16_t flags, std::span<const std::uint8_t> a,
                    std::span<const std::uint8_t> b);
    std::uint64_t min_live_head() const noexcept;
    // Laps reader i up to `needed_floor` (a record boundary at or above it).
    void lap_reader(std::uint32_t i, std::uint64_t needed_floor);
    // Laps every live reader below `needed_floor` whose head has not moved for stall_bound
    // (tracked in watch_ from the first time it held the producer back). True when any was.
    bool lap_stalled_readers(std::uint64_t needed_floor, core::Nanos now);
    std::uint64_t reader_pos(std::uint32_t i) const noexcept;

    ShmRing ring_;
    std::uint64_t tail_ = 0;             // our copy of ring tail (we are its only writer)
    std::uint64_t cached_min_head_ = 0;  // a lower bound of every live reader's head
    std::size_t max_payload_ = 0;
    std::size_t overflow_limit_ = 0;
    core::Nanos stall_bound_ = kDefaultStallBound;
    std::size_t overflow_bytes_ = 0;
    std::uint64_t lapped_records_ = 0;
    std::uint64_t written_ = 0;  // records write() took
    std::uint64_t stalls_ = 0;
    struct Queued {
        std::uint16_t type;
        std::uint16_t flags;
        std::vector<std::uint8_t> payload;
    };
    std::deque<Queued> overflow_;
    // Per reader, while records wait: its position when last seen moving, and since when.
    struct Watch {
        std::uint64_t pos = 0;
        core::Nanos since = 0;
        bool valid = false;
        bool lapped = false;  // lapped since it stopped moving
    };
    std::vector<Watch> watch_;
};

// The consumer side: reader slot `index` of one ring, in the process that owns the slot.
//
// Records are read in place, so a producer that laps this reader could overwrite a record while
// it is being read (a seqlock-style race): poll() hands each record to the visitor in two steps,
// copy() (take what is needed out of shared memory; may see torn bytes, must not act on them)
// and, once the record is known not to have been overwritten meanwhile, commit(); otherwise
// discard().
class RingReader {
  public:
    RingReader(ShmRing ring, std::uint32_t index) : ring_(ring), index_(index) {}
    RingReader() = default;

    // Attaches at the current tail (a restarted process starts with what comes next).
    void attach() noexcept;
    // Goes on from the head a previous reader left in this slot, if the slot is still attached
    // (its records were kept); else attach(). Records lapped meanwhile show in poll() as usual.
    void resume() noexcept;

    // Visitor:
    //   bool copy(const RecordHeader& h, std::span<const std::uint8_t> payload);
    //   void commit();
    //   void discard();
    // copy() returns false to reject a malformed record (counted in malformed()).
    // Handles at most `budget` records; returns how many were committed. Returns early when it
    // finds itself lapped (slot().drops has grown): the next call goes on after the gap.
    template <class Visitor>
    std::size_t poll(Visitor& visitor, std::size_t budget = SIZE_MAX);

    // True when the producer has published records this reader has not consumed.
    bool pending() const noexcept {
        // acquire: pairs with the producer's release store of tail.
        return ring_.tail().tail.load(std::memory_order_acquire) != pos_;
    }
    ReaderSlot& slot() const noexcept { return ring_.reader(index_); }
    // Where the record being handed to the visitor starts (during copy() and commit()): a
    // position no other record of this ring ever has.
    std::uint64_t position() const noexcept { return pos_; }
    // After poll() freed space: true (once) if the producer is waiting for space, so the
    // caller should wake it.
    bool take_waiting() noexcept {
        // seq_cst fence: our head stores are ordered before this load, pairing with the
        // producer's seq_cst store of `waiting` before it re-reads heads (Dekker).
        std::atomic_thread_fence(std::memory_order_seq_cst);
        std::atomic<std::uint32_t>& w = ring_.waiting().waiting;
        return w.load(std::memory_order_relaxed) != 0 &&
               w.exchange(0, std::memory_order_acq_rel) != 0;
    }
    std::uint64_t malformed() const noexcept { return malformed_; }

  private:
    ShmRing ring_;
    std::uint32_t index_ = 0;
    std::uint64_t pos_ = 0;  // our head, published to slot().head after each record
    std::uint64_t malformed_ = 0;
};

template <class Visitor>
std::size_t RingReader::poll(Visitor& visitor, std::size_t budget) {
    ReaderSlot& slot = ring_.reader(index_);
    const std::uint64_t mask = ring_.capacity() - 1;
    // acquire: records below tail were fully written before the producer's release store.
    const std::uint64_t tail = ring_.tail().tail.load(std::memory_order_acquire);
    std::size_t done = 0;
    while (pos_ != tail && done < budget) {
        // acquire: pairs with the producer's release store of lap_floor before it overwrites.
        const std::uint64_t floor = slot.lap_floor.load(std::memory_order_acquire);
        if (floor > pos_) {
            // Lapped: the producer counted what we lost in `drops` (visible now). Stop here, so
            // the caller can act on the gap before anything after it is delivered.
            pos_ = floor;
            slot.head.store(pos_, std::memory_order_release);
            break;
        }
        const std::uint8_t* at = ring_.data() + (pos_ & mask);
        RecordHeader h;
        std::memcpy(&h, at, sizeof h);
        const std::uint64_t room = ring_.capacity() - (pos_ & mask);
        std::uint64_t size = 0;
        bool valid = false;
        if (h.type == kPaddingRecord) {
            size = room;
            valid = true;
        } else if (h.length <= room - kRecordHeaderSize) {
            size = record_size(h.length);
            valid = visitor.copy(h, {at + kRecordHeaderSize, h.length});
        }
        // acquire fence: the bytes copied above were read before we look at lap_floor again;
        // if any of them was overwritten, the producer's lap_floor store (made before it
        // overwrote, with a release fence) is visible now.
        std::atomic_thread_fence(std::memory_order_acquire);
        if (slot.lap_floor.load(std::memory_order_relaxed) > pos_) {
            if (h.type != kPaddingRecord && valid) visitor.discard();
            continue;  // torn: restart from the floor
        }
        if (h.type != kPaddingRecord) {
            if (valid) {
                visitor.commit();
                ++done;
            } else {
                ++malformed_;
                if (size == 0) size = room;  // an impossible length: skip to the wrap
            }
        }
        pos_ += size;
        // release: our reads of this record happen before the producer may reuse its bytes.
        slot.head.store(pos_, std::memory_order_release);
    }
    return done;
}

}  // namespace herald::channel
