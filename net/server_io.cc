// Connection I/O of the worker loop: receive, send completions, and the close sequence.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/server.h"

namespace herald::net {

void Server::arm_recv(ConnRef c) {
    if (poll_mode_) {
        ops_.prepare(c, Op::kPoll, [](io_uring_sqe* sqe, int target) {
            io_uring_prep_poll_multishot(sqe, target, POLLIN | POLLRDHUP);
        });
    } else {
        ops_.prepare(c, Op::kRecv, [](io_uring_sqe* sqe, int target) {
            io_uring_prep_recv_multishot(sqe, target, nullptr, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = Uring::kBufferGroup;
        });
    }
    c.conn.recv_armed = true;
}

void Server::on_recv(ConnRef c, int res, unsigned flags) {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        c.conn.recv_armed = false;
        --c.conn.ops;
    }
    if (res > 0) {
        const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        input(c, uring_.buffer(id), static_cast<std::size_t>(res));
        uring_.recycle_buffer(id);
        if (!more && c.conn.state != ConnState::kAborting) arm_recv(c);
    } else if (res == -ENOBUFS) {
        // Every provided buffer is in use: they come back as this pass's completions are
        // handled, so re-arming now is safe.
        stats_->recv_no_buffers.add();
        if (!more && c.conn.state != ConnState::kAborting) arm_recv(c);
    } else {
        abort(c);  // EOF (0), reset, or cancelled
    }
    maybe_release(c);
}

// Poll fallback: readable means recv() until it would block, into one loop-wide buffer.
void Server::on_poll(ConnRef c, int res, unsigned flags) {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        c.conn.recv_armed = false;
        --c.conn.ops;
    }
    if (res < 0) {
        abort(c);
        return maybe_release(c);
    }
    std::uint8_t* buf = poll_buffer_.get();
    while (c.conn.state != ConnState::kAborting) {
        const ssize_t n = ::recv(c.conn.fd, buf, options_.recv_buffer_size, MSG_DONTWAIT);
        if (n > 0) {
            input(c, buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        abort(c);  // EOF or error
    }
    if (!more && c.conn.state != ConnState::kAborting) arm_recv(c);
    maybe_release(c);
}

void Server::input(ConnRef c, std::uint8_t* data, std::size_t n) {
    stats_->bytes_in.add(n);
    received_since_tick_ = true;
    memory_released_ = false;
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
    outbox_.clear(c.conn);
    c.conn.reader.release();
    if (c.conn.head != nullptr) c.conn.head->unref();
    c.conn.head = nullptr;
    conns_.erase(c.slot);
    stats_->connections.set(conns_.size());
}

}  // namespace herald::net
