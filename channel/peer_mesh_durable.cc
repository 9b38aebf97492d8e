// What of the mesh outlives the hub process (docs/CLUSTER.md "Hub restarts"): the incarnation,
// and per peer node the seqs delivered from it and handed out to it, in the host's
// shared-memory region (ShmRegion::origins(), ShmRegion::hub_incarnation()).
#include <cstdio>

#include "channel/peer_mesh.h"
#include "net/log.h"

namespace herald::channel::hub {

void Mesh::set_origin_table(OriginSeq* table, std::atomic<std::uint64_t>* incarnation) {
    origins_ = table;
    if (incarnation == nullptr) return;
    // acquire/release: the table's entries were written before the incarnation by the process
    // that stored it (and before its death, which the master saw).
    const std::uint64_t kept = incarnation->load(std::memory_order_acquire);
    if (kept == 0) {
        incarnation->store(incarnation_, std::memory_order_release);
        return;
    }
    incarnation_ = kept;
    restore_peers(core::now_ns());
}

// A restarted hub: every peer node of the table comes back down, numbered on, and sent every
// group until it says which it wants. Its window comes back whole from its WindowMirror (the
// same frames under the same seqs: the peer drops what it has). Without a whole copy (no slot,
// or the window outgrew it), a peer with frames unacknowledged when the previous process died
// gets a LOST kLostCheck first: those frames died with that process, and a receiver that lacks
// any of them sees the gap and closes the members it cannot vouch for.
void Mesh::restore_peers(core::Nanos now) {
    std::size_t restored = 0;
    std::size_t whole = 0;
    std::size_t marked = 0;
    for (std::uint32_t i = 0; i < kMaxOrigins && peers_.size() < kMaxPeers; ++i) {
        OriginSeq& e = origins_[i];
        const std::uint32_t node = e.node.load(std::memory_order_acquire);
        if (node == 0 || node == options_.node_id || peers_.contains(node)) continue;
        Peer& peer = peers_[node];
        peer.node = node;
        peer.received = &e;
        peer.delivered = e.last_seq.load(std::memory_order_relaxed);
        peer.address = "(known before this hub restarted)";
        peer.met = true;
        peer.down_since = now;
        peer.interest_unknown = true;
        ++unknown_interest_;
        ++restored;
        if (restore_window(peer, i)) {
            ++whole;
            continue;
        }
        const std::uint64_t next = e.send_next.load(std::memory_order_relaxed);
        const std::uint64_t acked = e.send_acked.load(std::memory_order_relaxed);
        const bool unacked = next != 0 && acked != next - 1;
        number_window(peer);
        // Frames after `acked` died with the previous process: the window says so (its ACK
        // base stays there until the peer acknowledges the check mark).
        if (unacked) peer.window = AckWindow(options_.peer_buffer, next, acked);
        if (unacked) {
            peer.window.push_check(nullptr);
            persist_send(peer);
            ++marked;
        }
    }
    net::log_event(net::LogLevel::kInfo, "hub_restored",
                   "incarnation=%llu peers=%zu windows_kept=%zu check_marks=%zu note=\"seqs go "
                   "on; kept windows are replayed; a check mark where frames died\"",
                   static_cast<unsigned long long>(incarnation_), restored, whole, marked);
}

// The window of origin entry `index`'s peer, taken back whole from its mirror. False when there
// is none to take (no slot, nothing committed, or it outgrew the slot).
bool Mesh::restore_window(Peer& peer, std::uint32_t index) {
    if (index >= mirrors_.size()) return false;
    const WindowMark mark = mirrors_[index].mark();
    if (mark.next_seq == 0 || mark.overflowed != 0) return false;
    peer.mirror = mirrors_[index];
    peer.mirror_mark = mark;
    peer.window = AckWindow(options_.peer_buffer);
    peer.window.restore(peer.mirror.frames(), mark.next_seq, mark.acked, mark.tail);
    if (mark.lost != 0) peer.window.lose_everything();  // which groups was not kept
    peer.skip = RecordId{mark.last_ring, mark.last_pos};
    peer.numbered = true;
    persist_send(peer);
    return true;
}

// The peer's window starts at the seq its OriginSeq says comes next (1 for a node never sent
// to), so that a receiver that remembers us never takes new frames for duplicates.
void Mesh::number_window(Peer& peer) {
    if (peer.numbered) return;
    const std::uint64_t next = peer.received->send_next.load(std::memory_order_relaxed);
    peer.window = AckWindow(options_.peer_buffer, next == 0 ? 1 : next);
    // Its mirror starts over with it (a slot is the entry's, for good).
    const auto index = static_cast<std::size_t>(peer.received - origins_);
    peer.mirror = index < mirrors_.size() ? mirrors_[index] : WindowMirror{};
    peer.mirror_mark = WindowMark{};
    peer.numbered = true;
    persist_send(peer);
}

// Stores the window's seqs in the peer's OriginSeq (relaxed: only this process reads them, and
// a later process only after the master reaped this one).
void Mesh::persist_send(Peer& peer, const RecordId* from) {
    peer.received->send_next.store(peer.window.next_seq(), std::memory_order_relaxed);
    peer.received->send_acked.store(peer.window.acked(), std::memory_order_relaxed);
    mirror_window(peer, from);
}

// Copies what the window appended since the last commit into its mirror, then commits the
// window's positions and seqs (and `from`, the record it came from). A window holding more than
// the slot marks the copy overflowed until it is empty again.
void Mesh::mirror_window(Peer& peer, const RecordId* from) {
    if (!peer.mirror) return;
    const AckWindow& w = peer.window;
    WindowMark m = peer.mirror_mark;
    if (m.overflowed != 0 && w.bytes() == 0) {  // emptied: a clean start
        m = WindowMark{};
        m.head = m.tail = w.appended();
    }
    if (m.overflowed == 0) {
        const std::uint64_t fresh = w.appended() - m.tail;
        if (w.appended() - m.head > peer.mirror.capacity() || fresh > w.bytes()) {
            m.overflowed = 1;
        } else if (fresh > 0) {
            const std::string_view frames = w.frames();
            peer.mirror.write(m.tail, frames.substr(frames.size() - fresh));
        }
    }
    m.head = w.dropped();
    m.tail = w.appended();
    m.next_seq = w.next_seq();
    m.acked = w.acked();
    if (from != nullptr) {
        m.last_ring = from->ring;
        m.last_pos = from->pos;
    }
    m.lost = w.lost_all() || !w.lost_groups().empty() ? 1 : 0;
    peer.mirror.commit(m);
    peer.mirror_mark = m;
}

void Mesh::interest_known(Peer& peer) {
    if (!peer.interest_unknown) return;
    peer.interest_unknown = false;
    --unknown_interest_;
}

// `seq` from `peer` went into the ring (OnPublish/OnLost wrote its records, or it had none): it
// is stored as the peer's last seq once the ring holds every record written so far, so that
// what a killed process still held in the overflow queue is replayed to the next one.
void Mesh::delivered(Peer& peer, std::uint64_t seq) {
    peer.delivered = seq;
    const std::uint64_t ticket = progress_.issued ? progress_.issued() : 0;
    if (pending_.empty() && (!progress_.placed || progress_.placed() >= ticket)) {
        peer.received->last_seq.store(seq, std::memory_order_release);
        return;
    }
    pending_.push_back(PendingSeq{ticket, peer.received, peer.node, seq});
}

void Mesh::settle() {
    if (pending_.empty() || !progress_.placed) return;
    const std::uint64_t placed = progress_.placed();
    while (!pending_.empty() && pending_.front().ticket <= placed) {
        const PendingSeq p = pending_.front();
        pending_.pop_front();
        p.entry->last_seq.store(p.seq, std::memory_order_release);
        auto it = peers_.find(p.node);
        if (it != peers_.end() && it->second.received == p.entry) it->second.ack_due = true;
    }
    for (auto& [node, peer] : peers_) send_ack(peer);
}

// The last seq from `entry`'s node handed to the ring: the newest one waiting to settle, else
// the stored one.
std::uint64_t Mesh::last_delivered(const OriginSeq* entry) const {
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
        if (it->entry == entry) return it->seq;
    }
    return entry->last_seq.load(std::memory_order_relaxed);
}

void Mesh::lose_everything() {
    // Into each window at once, linked or not (one frame per event): its seq is then stored,
    // so not even a crash before the next link can hide it.
    for (auto& [node, peer] : peers_) {
        peer.window.lose_everything();
        peer.lost_sent += peer.window.push_lost(peer.link != nullptr ? &peer.link->out : nullptr);
        persist_send(peer);
        if (peer.link != nullptr) poller_.mark_dirty(*peer.link);
    }
}

}  // namespace herald::channel::hub
