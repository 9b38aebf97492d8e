// Connection I/O of the worker loop: receive, send with coalescing, and the close sequence.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/server.h"

namespace herald::net {

void Server::arm_recv(Connection& c, std::uint32_t slot) {
    io_uring_sqe* sqe = uring_.sqe();
    const int target = fixed_files_ ? static_cast<int>(slot) : c.fd;
    if (poll_mode_) {
        io_uring_prep_poll_multishot(sqe, target, POLLIN | POLLRDHUP);
        io_uring_sqe_set_data64(sqe, user_data(Op::kPoll, slot));
    } else {
        io_uring_prep_recv_multishot(sqe, target, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = Uring::kBufferGroup;
        io_uring_sqe_set_data64(sqe, user_data(Op::kRecv, slot));
    }
    if (fixed_files_) sqe->flags |= IOSQE_FIXED_FILE;
    c.recv_armed = true;
    ++c.ops;
}

void Server::on_recv(Connection& c, std::uint32_t slot, int res, unsigned flags) {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        c.recv_armed = false;
        --c.ops;
    }
    if (res > 0) {
        const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        input(c, slot, uring_.buffer(id), static_cast<std::size_t>(res));
        uring_.recycle_buffer(id);
        if (!more && c.state != ConnState::kAborting) arm_recv(c, slot);
    } else if (res == -ENOBUFS) {
        // Every provided buffer is in use: they come back as this pass's completions are
        // handled, so re-arming now is safe.
        stats_->recv_no_buffers.add();
        if (!more && c.state != ConnState::kAborting) arm_recv(c, slot);
    } else {
        abort(c, slot);  // EOF (0), reset, or cancelled
    }
    maybe_release(c, slot);
}

// Poll fallback: readable means recv() until it would block, into one loop-wide buffer.
void Server::on_poll(Connection& c, std::uint32_t slot, int res, unsigned flags) {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        c.recv_armed = false;
        --c.ops;
    }
    if (res < 0) {
        abort(c, slot);
        return maybe_release(c, slot);
    }
    std::uint8_t* buf = poll_buffer_.get();
    while (c.state != ConnState::kAborting) {
        const ssize_t n = ::recv(c.fd, buf, options_.recv_buffer_size, MSG_DONTWAIT);
        if (n > 0) {
            input(c, slot, buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        abort(c, slot);  // EOF or error
    }
    if (!more && c.state != ConnState::kAborting) arm_recv(c, slot);
    maybe_release(c, slot);
}

void Server::input(Connection& c, std::uint32_t slot, std::uint8_t* data, std::size_t n) {
    stats_->bytes_in.add(n);
    received_since_tick_ = true;
    memory_released_ = false;
    switch (c.state) {
        case ConnState::kHandshake:
            return handshake_input(c, slot, data, n);
        case ConnState::kOpen:
        case ConnState::kClosing:
            return ws_input(c, slot, data, n);
        case ConnState::kHttpReply:
        case ConnState::kLingering:
        case ConnState::kAborting:
            return;  // nobody listens any more: discard
    }
}

// Queues one more reference to `frame`. Refuses (false) when the connection already owes more
// than --max-backpressure bytes; a frame always fits into an empty queue.
bool Server::enqueue(Connection& c, std::uint32_t slot, core::Block* frame) {
    if (!c.out.empty() && c.out.bytes() + frame->size > options_.max_backpressure) return false;
    frame->ref();
    c.out.push(frame, nodes_);
    mark_dirty(c, slot);
    return true;
}

void Server::mark_dirty(Connection& c, std::uint32_t slot) {
    if (c.dirty || c.send_busy) return;  // a busy connection is flushed when its send completes
    c.dirty = true;
    dirty_.push_back({slot, conns_.generation(slot)});
}

void Server::flush() {
    send_arena_.reset();  // what the last pass took was copied by the kernel at submission
    for (const Dirty& d : dirty_) {
        Connection* c = conns_.find(d.slot, d.generation);
        if (c == nullptr) continue;
        c->dirty = false;
        if (!c->send_busy && !c->out.empty() && c->state != ConnState::kAborting) {
            start_send(*c, d.slot);
        }
    }
    dirty_.clear();
}

// One send for everything queued (up to SendArena::kMaxFrames frames): a plain send for one
// frame, sendmsg with an iovec per frame otherwise. MSG_WAITALL makes io_uring finish a
// partial write itself.
void Server::start_send(Connection& c, std::uint32_t slot) {
    iovec first[2];
    std::size_t total = 0;
    io_uring_sqe* sqe = uring_.sqe();
    const int target = fixed_files_ ? static_cast<int>(slot) : c.fd;
    constexpr int kFlags = MSG_NOSIGNAL | MSG_WAITALL;
    if (c.out.gather(first, 2, total) == 1) {
        io_uring_prep_send(sqe, target, first[0].iov_base, first[0].iov_len, kFlags);
        c.inflight_frames = 1;
    } else {
        msghdr* m = send_arena_.take(SendArena::kMaxFrames);
        const std::size_t frames = c.out.gather(m->msg_iov, SendArena::kMaxFrames, total);
        m->msg_iovlen = frames;
        send_arena_.shrink_last(m, frames);
        c.inflight_frames = static_cast<std::uint16_t>(frames);
        io_uring_prep_sendmsg(sqe, target, m, kFlags);
    }
    if (fixed_files_) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, user_data(Op::kSend, slot));
    c.send_busy = true;
    ++c.ops;
}

void Server::on_send(Connection& c, std::uint32_t slot, int res) {
    --c.ops;
    c.send_busy = false;
    c.inflight_frames = 0;
    if (res < 0) {
        abort(c, slot);  // EPIPE, ECONNRESET, ECANCELED: the peer is gone
        return maybe_release(c, slot);
    }
    c.out.consume(static_cast<std::size_t>(res), nodes_);
    stats_->bytes_out.add(static_cast<std::uint64_t>(res));
    if (c.state == ConnState::kAborting) return maybe_release(c, slot);
    if (!c.out.empty()) return mark_dirty(c, slot);

    // Everything queued is out: a closing state may move on.
    if (c.state == ConnState::kHttpReply) {
        half_close(c, slot);
    } else if (c.state == ConnState::kClosing && (c.peer_closed || c.fail_fast)) {
        half_close(c, slot);
    }
}

// Our side is done: FIN to the peer, then discard input until its EOF (so unread input never
// turns our close into a reset that could destroy the last frames we sent). While the server
// shuts down it closes at once instead.
void Server::half_close(Connection& c, std::uint32_t slot) {
    if (stopping_) return abort(c, slot);  // shutting down: the handshake is done, no linger
    shutdown(c.fd, SHUT_WR);
    c.state = ConnState::kLingering;
    set_deadline(c, slot, kCloseTimer);
}

// Ends the connection now: shutdown makes every operation in flight complete; the slot is
// released when the last one has.
void Server::abort(Connection& c, std::uint32_t slot, bool reset) {
    if (c.state == ConnState::kAborting) return;
    if (c.state == ConnState::kOpen) leave_groups(slot);
    c.state = ConnState::kAborting;
    if (reset) {
        const linger hard{1, 0};
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    shutdown(c.fd, SHUT_RDWR);
    c.out.truncate(c.send_busy ? c.inflight_frames : 0, nodes_);
    set_deadline(c, slot, kCloseTimer);
}

void Server::leave_groups(std::uint32_t slot) {
    if (relay_ != nullptr) {
        groups_.leave_all(slot, [this](std::string_view group) { relay_->interest(group, false); });
    } else {
        groups_.leave_all(slot);
    }
    stats_->groups.set(groups_.group_count());
    stats_->memberships.set(groups_.membership_count());
}

// Once no operation names the slot, close the descriptor and its fixed-file entry (two
// operations, batched with everything else); on_close releases the slot after both.
void Server::maybe_release(Connection& c, std::uint32_t slot) {
    if (c.state != ConnState::kAborting || c.ops != 0 || c.fd < 0) return;
    io_uring_sqe* sqe = uring_.sqe();
    io_uring_prep_close(sqe, c.fd);
    io_uring_sqe_set_data64(sqe, user_data(Op::kClose, slot));
    ++c.ops;
    if (fixed_files_) {
        sqe = uring_.sqe();
        io_uring_prep_close_direct(sqe, slot);
        io_uring_sqe_set_data64(sqe, user_data(Op::kClose, slot));
        ++c.ops;
    }
    c.fd = -1;
}

void Server::on_close(Connection& c, std::uint32_t slot) {
    if (--c.ops != 0) return;
    clear_deadline(c, slot);
    c.out.clear(nodes_);
    c.reader.release();
    if (c.head != nullptr) c.head->unref();
    c.head = nullptr;
    conns_.erase(slot);
    stats_->connections.set(conns_.size());
}

}  // namespace herald::net

namespace herald::net {

msghdr* SendArena::take(std::size_t frames) {
    while (true) {
        if (current_ == chunks_.size()) chunks_.push_back(std::make_unique<Chunk>());
        Chunk& c = *chunks_[current_];
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

}  // namespace herald::net
