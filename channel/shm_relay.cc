#include "channel/shm_relay.h"

#include <sys/eventfd.h>

#include <algorithm>
#include <cstring>

#include "net/ws_frame.h"

namespace herald::channel {

// Reads one record out of shared memory (copy), then acts on it only once the ring confirms it
// was not overwritten meanwhile (commit).
struct ShmRelay::Visitor {
    ShmRelay& relay;
    RecordSink& sink;
    std::uint32_t from;                // the ring's writer
    core::Block* frame = nullptr;      // a whole message's frame, built in copy()
    bool complete_partial = false;     // commit() delivers partials_[from]
    std::uint32_t partial_before = 0;  // partial fill before this chunk (for discard)
    std::uint16_t control = 0;         // a control record's type, to act on in commit()
    std::uint16_t control_flags = 0;

    bool copy(const RecordHeader& h, std::span<const std::uint8_t> payload) {
        frame = nullptr;
        complete_partial = false;
        if (h.type != kPublishRecord) return copy_control(h, payload);
        Partial& partial = relay.partials_[from];
        partial_before = partial.filled;
        std::span<const std::uint8_t> part = payload;
        if ((h.flags & kChunkFirst) != 0) {
            PublishHeader ph;
            if (payload.size() < sizeof ph) return false;
            std::memcpy(&ph, payload.data(), sizeof ph);
            if (ph.group_len > payload.size() - sizeof ph) return false;
            relay.group_.assign(reinterpret_cast<const char*>(payload.data() + sizeof ph),
                                ph.group_len);
            part = payload.subspan(sizeof ph + ph.group_len);
            if (h.flags == kWholeMessage) {
                if (part.size() != ph.message_len) return false;
                if (sink.wants(relay.group_)) {
                    frame = net::make_frame(sink.pool(), net::Opcode::kText, part);
                }
                return true;
            }
            // The first chunk of a large message: (re)start its reassembly.
            if (partial.frame != nullptr) partial.frame->unref();
            partial.frame = net::reserve_frame(sink.pool(), ph.message_len);
            partial.filled = 0;
            partial.total = ph.message_len;
            partial.group = relay.group_;
            partial_before = 0;
        }
        if (partial.frame == nullptr || part.size() > partial.total - partial.filled) {
            return false;  // a chunk without its start (lapped) or a wrong length
        }
        std::memcpy(partial.frame->data() + net::kMaxServerHeader + partial.filled, part.data(),
                    part.size());
        partial.filled += static_cast<std::uint32_t>(part.size());
        if ((h.flags & kChunkLast) != 0) {
            if (partial.filled != partial.total) return false;
            complete_partial = true;
        }
        return true;
    }

    // Interest, reset and resync records: remembered in copy(), acted on in commit().
    bool copy_control(const RecordHeader& h, std::span<const std::uint8_t> payload) {
        control = h.type;
        control_flags = h.flags;
        if (h.type == kInterestRecord || h.type == kLostRecord) {
            relay.group_.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
        }
        if (h.type == kResyncRecord && payload.size() == sizeof(std::uint32_t)) {
            std::uint32_t worker = 0;
            std::memcpy(&worker, payload.data(), sizeof worker);
            if (worker != relay.self_) control = 0;  // another worker's: nothing to do here
        }
        return true;
    }

    void commit() {
        if (control != 0) {
            const std::uint16_t type = control;
            control = 0;
            if (type == kInterestRecord) sink.interest(from, relay.group_, control_flags != 0);
            if (type == kResetRecord && control_flags == kResetRestart) sink.reset(from);
            if (type == kResetRecord && control_flags != kResetRestart) {
                sink.interest_set(from, control_flags == kResetBegin);
            }
            if (type == kResyncRecord) sink.resync(from);
            if (type == kLostRecord) sink.lost(from, relay.group_);
            return;
        }
        if (frame != nullptr) {
            sink.deliver(from, relay.group_, frame);
            frame->unref();
            frame = nullptr;
            return;
        }
        if (!complete_partial) return;
        Partial& partial = relay.partials_[from];
        net::finish_frame(partial.frame, net::Opcode::kText, partial.total);
        sink.deliver(from, partial.group, partial.frame);
        partial.frame->unref();
        partial.frame = nullptr;
        partial.filled = partial.total = 0;
    }

    void discard() {
        control = 0;
        if (frame != nullptr) frame->unref();
        frame = nullptr;
        relay.partials_[from].filled = partial_before;
    }
};

ShmRelay::ShmRelay(const ShmRegion& region, std::uint32_t self, std::vector<int> wake_fds,
                   const RelayOptions& options)
    : self_(self),
      wake_fds_(std::move(wake_fds)),
      options_(options),
      writer_(region.ring(self), options.overflow_limit, options.stall_bound),
      readers_(region.processes()),
      partials_(region.processes()),
      seen_floor_(region.processes()),
      seen_malformed_(region.processes()),
      drops_(region.processes()) {
    for (std::uint32_t p = 0; p < region.processes(); ++p) {
        if (p == self) continue;
        readers_[p] = RingReader(region.ring(p), self);
        peers_.push_back(p);
    }
}

ShmRelay::~ShmRelay() {
    for (Partial& p : partials_) {
        if (p.frame != nullptr) p.frame->unref();
    }
}

void ShmRelay::attach(bool resume) {
    for (std::uint32_t p : peers_) {
        if (resume) {
            readers_[p].resume();
        } else {
            readers_[p].attach();
        }
        // A lap while no process read (floor past the head resumed at) is reported as missed.
        const std::uint64_t floor = readers_[p].slot().lap_floor.load(std::memory_order_relaxed);
        const std::uint64_t head = readers_[p].slot().head.load(std::memory_order_relaxed);
        seen_floor_[p] = floor > head ? head : floor;
        seen_malformed_[p] = readers_[p].malformed();
        drops_[p] = readers_[p].slot().drops.load(std::memory_order_relaxed);
    }
}

bool ShmRelay::take_missed(std::uint32_t p) {
    // relaxed: only the writer moves the floor, and our own reads of it in poll() are earlier
    // in this thread (so never newer than this load).
    const std::uint64_t floor = readers_[p].slot().lap_floor.load(std::memory_order_relaxed);
    const std::uint64_t malformed = readers_[p].malformed();
    if (floor == seen_floor_[p] && malformed == seen_malformed_[p]) return false;
    seen_floor_[p] = floor;
    seen_malformed_[p] = malformed;
    return true;
}

void ShmRelay::publish(std::string_view group, std::span<const std::uint8_t> message) {
    HERALD_ASSERT(group.size() <= UINT16_MAX);  // --max-group-id is at most 65535
    const PublishHeader ph{static_cast<std::uint16_t>(group.size()), 0,
                           static_cast<std::uint32_t>(message.size())};
    prefix_.resize(sizeof ph + group.size());
    std::memcpy(prefix_.data(), &ph, sizeof ph);
    std::memcpy(prefix_.data() + sizeof ph, group.data(), group.size());
    const std::span<const std::uint8_t> prefix{prefix_};
    const std::size_t room = writer_.max_payload();
    published_ = true;
    if (prefix.size() + message.size() <= room) {
        writer_.write(kPublishRecord, kWholeMessage, prefix, message);
        return;
    }
    std::size_t sent = std::min(message.size(), room - prefix.size());
    writer_.write(kPublishRecord, kChunkFirst, prefix, message.first(sent));
    while (sent < message.size()) {
        const std::size_t n = std::min(room, message.size() - sent);
        const bool last = sent + n == message.size();
        writer_.write(kPublishRecord, last ? kChunkLast : kChunkMiddle, message.subspan(sent, n));
        sent += n;
    }
}

void ShmRelay::write_control(RecordType type, std::uint16_t flags, std::string_view group) {
    published_ = true;
    writer_.write(type, flags,
                  std::span(reinterpret_cast<const std::uint8_t*>(group.data()), group.size()));
}

void ShmRelay::interest(std::string_view group, bool joined) {
    if (!options_.interest) return;
    write_control(kInterestRecord, joined ? 1 : 0, group);
}

void ShmRelay::announce_reset() {
    if (options_.interest) write_control(kResetRecord, 0, {});
}

void ShmRelay::interest_set(bool begin) {
    if (options_.interest) write_control(kResetRecord, begin ? kResetBegin : kResetEnd, {});
}

void ShmRelay::announce_resync(std::uint32_t worker) {
    if (worker == kEveryWorker) return write_control(kResyncRecord, 0, {});
    published_ = true;
    writer_.write(kResyncRecord, 0,
                  std::span(reinterpret_cast<const std::uint8_t*>(&worker), sizeof worker));
}

bool ShmRelay::poll_into(RecordSink& sink) {
    std::size_t done = 0;
    for (std::uint32_t p : peers_) {
        // Before reading: a worker lapped while it was stopped closes its members before it
        // delivers anything after the gap to them.
        report_lapped(p, sink);
        Visitor visitor{*this, sink, p};
        const std::size_t n = readers_[p].poll(visitor, options_.poll_budget);
        // We freed space: a producer waiting for it gets woken.
        if (n > 0 && readers_[p].take_waiting()) eventfd_write(wake_fds_[p], 1);
        done += n;
        report_lapped(p, sink);
    }
    return done > 0;
}

void ShmRelay::report_lapped(std::uint32_t p, RecordSink& sink) {
    // relaxed: a lap that is not visible yet is reported by a later call.
    const std::uint64_t drops = readers_[p].slot().drops.load(std::memory_order_relaxed);
    if (drops == drops_[p]) return;
    sink.lapped(p, drops - drops_[p]);
    drops_[p] = drops;
}

bool ShmRelay::pending() const {
    return std::any_of(peers_.begin(), peers_.end(),
                       [this](std::uint32_t p) { return readers_[p].pending(); });
}

void ShmRelay::flush() {
    if (!writer_.idle()) {
        writer_.flush();
        published_ = true;
    }
    if (!published_) return;
    published_ = false;
    writer_.wake_sleepers([this](std::uint32_t reader) { eventfd_write(wake_fds_[reader], 1); });
}

bool ShmRelay::prepare_to_sleep() {
    for (std::uint32_t p : peers_) {
        // seq_cst: ordered before the tail loads in pending() (pairs with the producer's
        // fence in wake_sleepers): either we see its record or it sees us asleep.
        readers_[p].slot().sleeping.store(1, std::memory_order_seq_cst);
    }
    if (!pending()) return true;
    woke();
    return false;
}

void ShmRelay::woke() {
    for (std::uint32_t p : peers_) readers_[p].slot().sleeping.store(0, std::memory_order_relaxed);
}

}  // namespace herald::channel
