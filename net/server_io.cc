// Connection I/O of the worker loop: what arrives, send completions, and the close sequence.
#include <sys/socket.h>
#include <unistd.h>

#include "net/server.h"

namespace herald::net {

void Server::input(ConnRef c, std::uint8_t* data, std::size_t n) {
    stats_->bytes_in.add(n);
    c.conn.heard = true;  // any input, a pong included, keeps the connection alive
    received_since_tick_ = true;
    memory_released_ = false;
    if (c.conn.tls != nullptr) {
        tls_input(c, data, n);
    } else {
        plain_input(c, data, n);
    }
    // What this input published may have filled the ring: hold the next input at once.
    if (relay_ != nullptr && relay_->congested()) inbox_.set_holding(true);
}

void Server::input_gone(ConnRef c) {
    if (c.conn.tls != nullptr) c.conn.tls->session.feed_eof();
    abort(c);
}

void Server::apply_backpressure() {
    const bool congested = relay_->congested();
    inbox_.set_holding(congested);
    if (congested) {
        if (held_since_ == 0) {
            held_since_ = now_;
            stats_->backpressure_events.add();
        }
        return;
    }
    if (held_since_ != 0) {
        stats_->backpressure_ns.add(static_cast<std::uint64_t>(now_ - held_since_));
        held_since_ = 0;
    }
    inbox_.release([this](ConnRef c, std::uint8_t* data, std::size_t n) { input(c, data, n); },
                   [this](ConnRef c) { input_gone(c); }, [this](ConnRef c) { maybe_release(c); });
}

void Server::plain_input(ConnRef c, std::uint8_t* data, std::size_t n) {
    switch (c.conn.state) {
        case ConnState::kHandshake:
            return handshake_input(c, data, n);
        case ConnState::kOpen:
        case ConnState::kClosing:
            return ws_input(c, data, n);
        case ConnState::kHttpReply:
        case ConnState::kLingering:
        case ConnState::kAborting:
            return;  // nobody listens any more: discard
    }
}

void Server::on_send(ConnRef c, int res) {
    const SendDone done = outbox_.on_sent(c, res);
    if (done == SendDone::kFailed) {
        abort(c);  // EPIPE, ECONNRESET, ECANCELED: the peer is gone
        return maybe_release(c);
    }
    stats_->bytes_out.add(static_cast<std::uint64_t>(res));
    if (c.conn.state == ConnState::kAborting) return maybe_release(c);
    if (done == SendDone::kPending) return;

    // Everything queued is out: a closing state may move on.
    if (c.conn.state == ConnState::kHttpReply) {
        half_close(c);
    } else if (c.conn.state == ConnState::kClosing && (c.conn.peer_closed || c.conn.fail_fast)) {
        half_close(c);
    }
}

// Our side is done: FIN to the peer, then discard input until its EOF (so unread input never
// turns our close into a reset that could destroy the last frames we sent). While the server
// shuts down it closes at once instead.
void Server::half_close(ConnRef c) {
    if (stopping_) return abort(c);  // shutting down: the handshake is done, no linger
    if (c.conn.tls != nullptr && c.conn.tls->session.state() == TlsState::kOpen) {
        // close_notify first (RFC 8446 6.1); on_send comes back here once it is out.
        c.conn.tls->session.close();
        return outbox_.kick(c);
    }
    shutdown(c.conn.fd, SHUT_WR);
    c.conn.state = ConnState::kLingering;
    set_deadline(c, kCloseTimer);
}

// Ends the connection now: shutdown makes every operation in flight complete; the slot is
// released when the last one has.
void Server::abort(ConnRef c, bool reset) {
    if (c.conn.state == ConnState::kAborting) return;
    if (c.conn.state == ConnState::kOpen) groups_.leave_all(c.slot);
    c.conn.state = ConnState::kAborting;
    if (reset) {
        const linger hard{1, 0};
        setsockopt(c.conn.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    shutdown(c.conn.fd, SHUT_RDWR);
    outbox_.drop_unsent(c.conn);
    set_deadline(c, kCloseTimer);
}

// Once no operation names the slot, close the descriptor and its fixed-file entry (two
// operations, batched with everything else); on_close releases the slot after both.
void Server::maybe_release(ConnRef c) {
    if (c.conn.state != ConnState::kAborting || c.conn.ops != 0 || c.conn.fd < 0) return;
    io_uring_sqe* sqe = uring_.sqe();
    io_uring_prep_close(sqe, c.conn.fd);
    io_uring_sqe_set_data64(sqe, ops_.user_data(Op::kClose, c.slot));
    ++c.conn.ops;
    if (ops_.fixed_files()) {
        sqe = uring_.sqe();
        io_uring_prep_close_direct(sqe, c.slot);
        io_uring_sqe_set_data64(sqe, ops_.user_data(Op::kClose, c.slot));
        ++c.conn.ops;
    }
    c.conn.fd = -1;
}

void Server::on_close(ConnRef c) {
    if (--c.conn.ops != 0) return;
    clear_deadline(c);
    gate_.release(c.slot);
    outbox_.clear(c.conn);
    c.conn.reader.release();
    if (c.conn.head != nullptr) c.conn.head->unref();
    c.conn.head = nullptr;
    refused_open_ -= c.conn.refused ? 1 : 0;
    conns_.erase(c.slot);
    stats_->connections.set(conns_.size());
}

}  // namespace herald::net
