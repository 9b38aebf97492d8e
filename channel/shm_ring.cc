#include "channel/shm_ring.h"

#include <algorithm>
#include <cstring>

namespace herald::channel {

ShmRing ShmRing::create(void* memory, std::uint64_t capacity, std::uint32_t readers) {
    HERALD_ASSERT(capacity >= 4096 && (capacity & (capacity - 1)) == 0);
    HERALD_ASSERT(reinterpret_cast<std::uintptr_t>(memory) % kCacheLine == 0);
    auto* base = static_cast<std::uint8_t*>(memory);
    auto* control = new (base + kControlOffset) RingControl{};
    control->capacity = capacity;
    control->readers = readers;
    new (base + kTailOffset) RingTail{};
    new (base + kWaitingOffset) RingWaiting{};
    for (std::uint32_t i = 0; i < readers; ++i) {
        new (base + kReadersOffset + i * kCacheLine) ReaderSlot{};
    }
    // release: a process that sees the magic sees the fields above.
    std::atomic_ref<std::uint64_t>(control->magic).store(kRingMagic, std::memory_order_release);
    return ShmRing(memory);
}

ShmRing::ShmRing(void* memory) {
    auto* base = static_cast<std::uint8_t*>(memory);
    auto* control = reinterpret_cast<RingControl*>(base + kControlOffset);
    HERALD_ASSERT(std::atomic_ref<std::uint64_t>(control->magic).load(std::memory_order_acquire) ==
                  kRingMagic);
    capacity_ = control->capacity;
    readers_ = control->readers;
    tail_ = reinterpret_cast<RingTail*>(base + kTailOffset);
    waiting_ = reinterpret_cast<RingWaiting*>(base + kWaitingOffset);
    slots_ = reinterpret_cast<ReaderSlot*>(base + kReadersOffset);
    data_ = base + kReadersOffset + std::size_t{readers_} * kCacheLine;
}

void ShmRing::attach(std::uint32_t i) const noexcept {
    ReaderSlot& r = reader(i);
    // acquire: we start after everything already published.
    const std::uint64_t start = tail_->tail.load(std::memory_order_acquire);
    r.lap_floor.store(start, std::memory_order_relaxed);
    r.head.store(start, std::memory_order_relaxed);
    r.sleeping.store(0, std::memory_order_relaxed);
    // seq_cst: the head above is visible to the producer no later than `alive` is.
    r.alive.store(1, std::memory_order_seq_cst);
}

void ShmRing::detach(std::uint32_t i) const noexcept {
    // release: the producer may reuse every byte this reader had not consumed.
    reader(i).alive.store(0, std::memory_order_release);
}

std::uint64_t ShmRing::lag(std::uint32_t i) const noexcept {
    const ReaderSlot& r = reader(i);
    if (r.alive.load(std::memory_order_relaxed) == 0) return 0;
    // relaxed: a monitoring snapshot.
    const std::uint64_t tail = tail_->tail.load(std::memory_order_relaxed);
    const std::uint64_t head = std::max(r.head.load(std::memory_order_relaxed),
                                        r.lap_floor.load(std::memory_order_relaxed));
    return tail > head ? tail - head : 0;
}

RingWriter::RingWriter(ShmRing ring, std::size_t overflow_limit, core::Nanos stall_bound)
    : ring_(ring),
      // acquire: a restarted producer continues after what its predecessor published.
      tail_(ring.tail().tail.load(std::memory_order_acquire)),
      cached_min_head_(tail_),
      max_payload_(ring.capacity() / 4 - kRecordHeaderSize),
      overflow_limit_(overflow_limit),
      stall_bound_(stall_bound),
      watch_(ring.readers()) {}

void RingWriter::write(std::uint16_t type, std::uint16_t flags, std::span<const std::uint8_t> a,
                       std::span<const std::uint8_t> b, core::Nanos now) {
    HERALD_ASSERT(a.size() + b.size() <= max_payload_);
    ++written_;
    if (overflow_.empty() && try_append(type, flags, a, b)) return;
    Queued q{type, flags, {}};
    q.payload.reserve(a.size() + b.size());
    q.payload.insert(q.payload.end(), a.begin(), a.end());
    q.payload.insert(q.payload.end(), b.begin(), b.end());
    overflow_bytes_ += record_size(q.payload.size());
    overflow_.push_back(std::move(q));
    flush(now);
}

bool RingWriter::flush(core::Nanos now) {
    bool flagged = false;
    while (!overflow_.empty()) {
        Queued& q = overflow_.front();
        if (try_append(q.type, q.flags, q.payload, {})) {
            overflow_bytes_ -= record_size(q.payload.size());
            overflow_.pop_front();
            continue;
        }
        // The floor every reader must reach for this record to fit, plus an eighth of the ring,
        // so a lapped reader is not lapped again for every record.
        const std::uint64_t capacity = ring_.capacity();
        const std::uint64_t need = record_size(q.payload.size());
        const std::uint64_t room = capacity - (tail_ & (capacity - 1));
        const std::uint64_t total = need + (room < need ? room : 0);
        const std::uint64_t floor = tail_ + total + capacity / 8 - capacity;
        if (overflow_bytes_ > overflow_limit_) {
            // Over the hard bound (a writer that ignores congestion): lap whoever holds us back.
            for (std::uint32_t i = 0; i < ring_.readers(); ++i) lap_reader(i, floor);
            cached_min_head_ = min_live_head();
            continue;
        }
        if (lap_stalled_readers(floor, now)) continue;
        if (flagged) return false;
        // seq_cst: the flag is visible before we look at the heads once more, so a reader that
        // advanced meanwhile either is seen now or sees the flag.
        ring_.waiting().waiting.store(1, std::memory_order_seq_cst);
        flagged = true;
    }
    // watch_ stays: a position only grows, so a reader seen again at its watched position has
    // not moved since then.
    return true;
}

std::uint64_t RingWriter::reader_pos(std::uint32_t i) const noexcept {
    const ReaderSlot& r = ring_.reader(i);
    // acquire (head): the reader's reads of a record happen before we reuse it.
    return std::max(r.head.load(std::memory_order_acquire),
                    r.lap_floor.load(std::memory_order_relaxed));
}

bool RingWriter::lap_stalled_readers(std::uint64_t needed_floor, core::Nanos now) {
    bool lapped = false;
    for (std::uint32_t i = 0; i < ring_.readers(); ++i) {
        // acquire: pairs with attach()'s store; a reader not alive holds nothing back.
        if (ring_.reader(i).alive.load(std::memory_order_acquire) == 0) continue;
        const std::uint64_t pos = reader_pos(i);
        if (pos >= needed_floor) continue;
        Watch& w = watch_[i];
        if (!w.valid || w.pos != pos) {
            w = Watch{pos, now, true, false};  // first seen holding us back, or it moved
            continue;
        }
        if (now - w.since < stall_bound_) continue;
        lap_reader(i, needed_floor);
        // Still not moved since w.since: while it stays so it is lapped again at once (a
        // stopped reader holds the producer back once, not once per bound).
        stalls_ += w.lapped ? 0 : 1;
        w.pos = reader_pos(i);
        w.lapped = true;
        lapped = true;
    }
    if (lapped) cached_min_head_ = min_live_head();
    return lapped;
}

std::uint64_t RingWriter::min_live_head() const noexcept {
    std::uint64_t min = tail_;
    for (std::uint32_t i = 0; i < ring_.readers(); ++i) {
        const ReaderSlot& r = ring_.reader(i);
        // acquire (alive, head): the reader's reads of a record happen before we reuse it.
        if (r.alive.load(std::memory_order_acquire) == 0) continue;
        const std::uint64_t head = std::max(r.head.load(std::memory_order_acquire),
                                            r.lap_floor.load(std::memory_order_relaxed));
        min = std::min(min, head);
    }
    return min;
}

bool RingWriter::try_append(std::uint16_t type, std::uint16_t flags,
                            std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    const std::uint64_t capacity = ring_.capacity();
    const std::size_t need = record_size(a.size() + b.size());
    const std::uint64_t offset = tail_ & (capacity - 1);
    const std::uint64_t room = capacity - offset;
    const std::uint64_t total = need + (room < need ? room : 0);  // padding to the end first
    if (tail_ + total - cached_min_head_ > capacity) {
        cached_min_head_ = min_live_head();
        if (tail_ + total - cached_min_head_ > capacity) return false;
    }
    std::uint8_t* data = ring_.data();
    if (room < need) {
        const RecordHeader pad{static_cast<std::uint32_t>(room - kRecordHeaderSize), kPaddingRecord,
                               0};
        std::memcpy(data + offset, &pad, sizeof pad);
        tail_ += room;
    }
    std::uint8_t* at = data + (tail_ & (capacity - 1));
    const RecordHeader h{static_cast<std::uint32_t>(a.size() + b.size()), type, flags};
    std::memcpy(at, &h, sizeof h);
    if (!a.empty()) std::memcpy(at + kRecordHeaderSize, a.data(), a.size());
    if (!b.empty()) std::memcpy(at + kRecordHeaderSize + a.size(), b.data(), b.size());
    tail_ += need;
    // release: the record's bytes are visible before the tail that covers them.
    ring_.tail().tail.store(tail_, std::memory_order_release);
    return true;
}

// Moves reader i, when it is live and its effective head is below `needed_floor`, up to the
// first record boundary at or above it, counting the records it skips as its drops.
void RingWriter::lap_reader(std::uint32_t i, std::uint64_t needed_floor) {
    const std::uint64_t mask = ring_.capacity() - 1;
    ReaderSlot& r = ring_.reader(i);
    if (r.alive.load(std::memory_order_acquire) == 0) return;
    std::uint64_t pos = reader_pos(i);
    if (pos >= needed_floor) return;
    std::uint64_t skipped = 0;
    // The records between a live reader's head and our tail are intact: walk them.
    while (pos < needed_floor && pos < tail_) {
        RecordHeader h;
        std::memcpy(&h, ring_.data() + (pos & mask), sizeof h);
        if (h.type == kPaddingRecord) {
            pos += ring_.capacity() - (pos & mask);
        } else {
            pos += record_size(h.length);
            ++skipped;
        }
    }
    r.drops.store(r.drops.load(std::memory_order_relaxed) + skipped, std::memory_order_relaxed);
    lapped_records_ += skipped;
    // release: a reader that sees the new floor sees the drops counted for it.
    r.lap_floor.store(pos, std::memory_order_release);
    // release fence: the new floor is visible before any byte we overwrite next (the reader's
    // acquire fence after copying pairs with it).
    std::atomic_thread_fence(std::memory_order_release);
}

void RingReader::attach() noexcept {
    ring_.attach(index_);
    pos_ = ring_.reader(index_).head.load(std::memory_order_relaxed);
}

void RingReader::resume() noexcept {
    ReaderSlot& r = ring_.reader(index_);
    // acquire: pairs with the seq_cst store of `alive` in attach(), by this or an earlier process.
    if (r.alive.load(std::memory_order_acquire) == 0) return attach();
    pos_ = r.head.load(std::memory_order_relaxed);
    r.sleeping.store(0, std::memory_order_relaxed);
}

}  // namespace herald::channel
