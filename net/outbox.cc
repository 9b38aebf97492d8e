#include "net/outbox.h"

#include <algorithm>
#include <utility>

namespace herald::net {

SendStatus Outbox::enqueue(ConnRef c, core::Block* frame) {
    Connection& conn = c.conn;
    if (conn.state != ConnState::kOpen) return SendStatus::kClosing;
    if (!conn.out.empty() && conn.out.bytes() + frame->size > max_backpressure_) {
        return SendStatus::kBackpressure;
    }
    frame->ref();
    conn.out.push(frame, nodes_);
    mark_dirty(c);
    return SendStatus::kQueued;
}

void Outbox::push(ConnRef c, core::Block* frame) {
    c.conn.out.push(frame, nodes_);
    mark_dirty(c);
}

void Outbox::drop_unsent(Connection& c) noexcept {
    c.out.truncate(c.send_busy ? c.inflight_frames : 0, nodes_);
}

void Outbox::mark_dirty(ConnRef c) {
    // A busy connection is flushed again when its send completes.
    if (c.conn.dirty || c.conn.send_busy) return;
    c.conn.dirty = true;
    dirty_.push_back({c.slot, conns_.generation(c.slot)});
}

void Outbox::flush() {
    ops_.uring().wait_consumed();  // SQPOLL: the kernel thread has copied the last pass's
    arena_.reset();                // msghdrs (without it, io_uring_submit already did)
    dirty_peak_ = std::max(dirty_peak_, dirty_.size());
    for (const Dirty& d : dirty_) {
        Connection* c = conns_.find(d.slot, d.generation);
        if (c == nullptr) continue;
        c->dirty = false;
        if (c->send_busy || c->state == ConnState::kAborting) continue;
        if (c->tls != nullptr) {
            start_tls_send({*c, d.slot});
        } else if (!c->out.empty()) {
            start_send({*c, d.slot});
        }
    }
    dirty_.clear();
}

// One send for everything queued (up to SendArena::kMaxFrames frames): a plain send for one
// frame, sendmsg with an iovec per frame otherwise. MSG_WAITALL makes io_uring finish a
// partial write itself. A head frame at the zero-copy threshold leaves alone with SEND_ZC.
void Outbox::start_send(ConnRef c) {
    constexpr int kFlags = MSG_NOSIGNAL | MSG_WAITALL;
    Connection& conn = c.conn;
    iovec first[2];
    const std::size_t described = describe(conn, first, 2);
    if (wants_zero_copy(conn, first[0].iov_len)) return start_zc_send(c, first[0]);
    if (described == 1) {
        ops_.prepare(c, Op::kSend, [&](io_uring_sqe* sqe, int target) {
            io_uring_prep_send(sqe, target, first[0].iov_base, first[0].iov_len, kFlags);
        });
        conn.inflight_frames = 1;
    } else {
        msghdr* m = arena_.take(SendArena::kMaxFrames);
        const std::size_t frames = describe(conn, m->msg_iov, SendArena::kMaxFrames);
        m->msg_iovlen = frames;
        arena_.shrink_last(m, frames);
        conn.inflight_frames = static_cast<std::uint16_t>(frames);
        ops_.prepare(c, Op::kSend, [&](io_uring_sqe* sqe, int target) {
            io_uring_prep_sendmsg(sqe, target, m, kFlags);
        });
    }
    conn.send_busy = true;
}

SendDone Outbox::on_sent(ConnRef c, int res) noexcept {
    Connection& conn = c.conn;
    --conn.ops;
    conn.send_busy = false;
    conn.inflight_frames = 0;
    if (res < 0) return SendDone::kFailed;
    if (conn.tls != nullptr) return on_tls_sent(c, res);
    written(conn, static_cast<std::size_t>(res));
    if (conn.out.empty()) return SendDone::kDrained;
    if (conn.state != ConnState::kAborting) mark_dirty(c);
    return SendDone::kPending;
}

void Outbox::release_memory() {
    ops_.uring().wait_consumed();  // SQPOLL: the last pass's msghdrs are copied
    arena_.release(std::max(arena_peak_prev_, arena_.peak()));
    nodes_.trim(std::max(nodes_peak_prev_, nodes_.peak()));
    const std::size_t keep_dirty = std::max(dirty_peak_prev_, dirty_peak_);
    if (dirty_.empty() && dirty_.capacity() > 2 * keep_dirty) {
        std::vector<Dirty> smaller;
        smaller.reserve(keep_dirty);
        dirty_.swap(smaller);
    }
}

void Outbox::end_period() noexcept {
    arena_peak_prev_ = arena_.take_peak();
    nodes_peak_prev_ = nodes_.take_peak();
    dirty_peak_prev_ = std::exchange(dirty_peak_, 0);
}

std::size_t Outbox::retained_bytes() const noexcept {
    return arena_.bytes() + nodes_.bytes() + dirty_.capacity() * sizeof(Dirty);
}

std::size_t Outbox::describe(const Connection& c, iovec* iov, std::size_t max) noexcept {
    std::size_t total = 0;
    return c.out.gather(iov, max, total);
}

void Outbox::written(Connection& c, std::size_t bytes) noexcept { c.out.consume(bytes, nodes_); }

// The plaintext frames leave the queue as they are sealed (the records hold copies), so what
// --max-backpressure bounds is the plaintext not yet sealed; the sealed part is at most one
// output block (TlsSession::kOutputSoftLimit plus a record). A partial send keeps its block and
// sends the rest first.
void Outbox::start_tls_send(ConnRef c) {
    Connection& conn = c.conn;
    TlsLink& tls = *conn.tls;
    if (!tls.sending) {
        if (tls.session.state() == TlsState::kOpen) {
            iovec iov[SendArena::kMaxFrames];
            while (!conn.out.empty()) {
                std::size_t total = 0;
                const std::size_t n = conn.out.gather(iov, SendArena::kMaxFrames, total);
                const std::size_t sealed = tls.session.encrypt({iov, n});
                conn.out.consume(sealed, nodes_);
                if (sealed < total) break;  // the output bound: the rest goes next pass
            }
        } else {
            conn.out.clear(nodes_);  // no records can carry them any more
        }
        tls.sending = tls.session.take_output();
        tls.sent = 0;
        if (!tls.sending) return;
    }
    std::uint8_t* bytes = tls.sending->bytes() + tls.sent;
    const std::size_t left = tls.sending->size - tls.sent;
    ops_.prepare(c, Op::kSend, [&](io_uring_sqe* sqe, int target) {
        io_uring_prep_send(sqe, target, bytes, left, MSG_NOSIGNAL | MSG_WAITALL);
    });
    conn.send_busy = true;
}

SendDone Outbox::on_tls_sent(ConnRef c, int res) noexcept {
    TlsLink& tls = *c.conn.tls;
    tls.sent += static_cast<std::uint32_t>(res);
    if (tls.sending && tls.sent >= tls.sending->size) tls.sending.reset();
    if (drained(c.conn)) return SendDone::kDrained;
    if (c.conn.state != ConnState::kAborting) mark_dirty(c);
    return SendDone::kPending;
}

msghdr* SendArena::take(std::size_t frames) {
    while (true) {
        if (current_ == chunks_.size()) chunks_.push_back(std::make_unique<Chunk>());
        Chunk& c = *chunks_[current_];
        peak_ = std::max(peak_, current_ + 1);
        if (c.iov_used + frames <= Chunk::kIovecs && c.headers_used < Chunk::kHeaders) {
            msghdr* m = &c.headers[c.headers_used++];
            *m = {};
            m->msg_iov = &c.iov[c.iov_used];
            c.iov_used += frames;
            return m;
        }
        ++current_;
    }
}

void SendArena::shrink_last(msghdr* m, std::size_t used) noexcept {
    Chunk& c = *chunks_[current_];
    c.iov_used = static_cast<std::size_t>(m->msg_iov - c.iov) + used;
}

void SendArena::reset() noexcept {
    for (std::size_t i = 0; i <= current_ && i < chunks_.size(); ++i) {
        chunks_[i]->iov_used = 0;
        chunks_[i]->headers_used = 0;
    }
    current_ = 0;
}

void SendArena::release(std::size_t keep) noexcept {
    reset();
    if (chunks_.size() <= keep) return;
    chunks_.resize(keep);
    chunks_.shrink_to_fit();
}

}  // namespace herald::net
