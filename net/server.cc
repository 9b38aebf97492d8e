#include "net/server.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include "net/http_handshake.h"
#include "net/log.h"
#include "net/ws_frame.h"

namespace herald::net {
namespace {

// Records of an interest answer (GroupFanOut::resync_step) written per loop pass at most, so
// that clients are still served while a large set streams out.
constexpr std::size_t kResyncRecordsPerPass = 1024;

// Slots above what RLIMIT_NOFILE allows are useless; keep some descriptors for the loop itself.
std::uint32_t default_max_conns() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    const rlim_t usable = rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 1;
    return static_cast<std::uint32_t>(std::min<rlim_t>(usable, 1u << 20));
}

}  // namespace

Server::Server(const ServerOptions& options, WorkerStats* stats)
    : options_(options),
      own_stats_(stats == nullptr ? std::make_unique<WorkerStats>() : nullptr),
      stats_(stats == nullptr ? own_stats_.get() : stats),
      max_conns_(options.max_conns != 0 ? options.max_conns : default_max_conns()),
      conns_(max_conns_ + kRefusalReserve),
      groups_(*stats_, options.max_groups_per_conn),
      outbox_(ops_, conns_, options.max_backpressure),
      parser_(options.max_group_id),
      gate_(options.allowed_origins, options.jwt, options.max_conns_per_ip, conns_.capacity()) {
    ws_limits_.max_message = options_.max_message;
    stats_renderer_ = [this] { return render_own_stats(); };
    stats_->pid.set(static_cast<std::uint64_t>(getpid()));
}

Server::~Server() {
    for (std::uint32_t i = 0; i < conns_.high_water(); ++i) {
        if (!conns_.live(i)) continue;
        Connection& c = conns_[i];
        if (c.fd >= 0) close(c.fd);
        outbox_.clear(c);
        c.reader.release();
        c.tls.reset();  // its blocks go back to pool_, which the slab outlives
        if (c.head != nullptr) c.head->unref();
    }
    for (core::Block* b : error_frames_) {
        if (b != nullptr) b->unref();
    }
    if (ping_frame_ != nullptr) ping_frame_->unref();
    if (signal_fd_ >= 0) close(signal_fd_);
}

core::Result<Endpoint> Server::start() {
    if (core::Status tls = start_tls(); !tls) return core::Error{tls.error()};
    auto bound = listener_.open(options_.listen, options_.reuse_port);
    if (!bound) return bound;

    const bool want_ring = options_.recv_mode != RecvMode::kPoll;
    UringConfig config{
        .entries = options_.ring_entries,
        .registered_files = conns_.capacity(),
        .recv_buffers = want_ring ? options_.recv_buffers : 0,
        .recv_buffer_size = options_.recv_buffer_size,
        .sqpoll = options_.sqpoll,
        .sqpoll_cpu = options_.sqpoll_cpu,
        .busy_poll_us = options_.busy_poll_us,
    };
    if (core::Status ready = uring_.init(config); !ready) return core::Error{ready.error()};
    ops_.set_fixed_files(uring_.has_registered_files());
    report_ring_options();
    start_zero_copy();
    if (options_.handle_signals) {
        // Blocked from here on, so a signal that arrives before the loop runs is not lost.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC);
    }
    if (core::Status recv = inbox_.start(options_.recv_mode, options_.recv_buffer_size); !recv) {
        return core::Error{recv.error()};
    }
    prepare_websocket_accept();
    for (std::size_t i = 1; i < kErrorCodeCount; ++i) {
        const std::string_view json = error_json(static_cast<ErrorCode>(i));
        error_frames_[i] =
            make_frame(pool_, Opcode::kText,
                       {reinterpret_cast<const std::uint8_t*>(json.data()), json.size()});
    }
    ping_frame_ = make_frame(pool_, Opcode::kPing, {});
    return bound;
}

core::Status Server::run() {
    listener_.arm();
    arm_timer();
    if (signal_fd_ >= 0) arm_signals();
    if (relay_ != nullptr) arm_wake();
    while (true) {
        now_ = core::now_ns();
        if (stop_requested_.load(std::memory_order_relaxed) && !stopping_) begin_shutdown();
        if (stopping_ && (conns_.size() == 0 || now_ >= stop_deadline_)) break;
        if (relay_ != nullptr) {
            relay_->poll(*this);
            relay_->flush();
            apply_backpressure();
        }
        if (groups_.resyncing()) groups_.resync_step(kResyncRecordsPerPass);
        if (buffers_release_due_) release_receive_buffers();
        outbox_.flush();
        if (relay_ != nullptr) relay_->flush();
        if (!inbox_.poll_mode()) uring_.publish_buffers();
        int err = 0;
        if (!wait_for_work(err)) {
            return core::Error{std::string("io_uring_enter failed: ") + std::strerror(err)};
        }
        now_ = core::now_ns();
        io_uring* ring = uring_.ring();
        io_uring_cqe* cqe = nullptr;
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_for_each_cqe(ring, head, cqe) {
            handle_completion(*cqe);
            ++seen;
        }
        io_uring_cq_advance(ring, seen);
    }
    return {};
}

// Submits this pass's operations and returns when there is something to do. Alone, that is one
// io_uring_submit_and_wait. With other processes publishing into shared memory it first checks
// for ready completions without blocking, then spins on the rings for relay->spin_ns() (a
// sleeping reader costs the publisher a wake-up of tens of microseconds), then sleeps until a
// completion or the eventfd read wakes it.
bool Server::wait_for_work(int& error) {
    if (relay_ == nullptr) return uring_.submit_and_wait(error);
    if (!uring_.submit(error)) return false;
    if (io_uring_cq_ready(uring_.ring()) > 0) return true;
    // An interest answer the ring has room for goes on next pass; when the ring is full, the
    // reader that frees space wakes us (RingWriter's waiting flag).
    if (groups_.resyncing() && relay_->can_write()) return true;
    const core::Nanos until = core::now_ns() + relay_->spin_ns();
    while (core::now_ns() < until) {
        if (relay_->pending()) return true;
        __builtin_ia32_pause();
    }
    if (!relay_->prepare_to_sleep()) return true;
    const bool ok = uring_.submit_and_wait(error);
    relay_->woke();
    return ok;
}

void Server::handle_completion(const io_uring_cqe& cqe) {
    const Op op = op_of(cqe.user_data);
    switch (op) {
        case Op::kAccept:
            return on_accept(cqe.res, (cqe.flags & IORING_CQE_F_MORE) != 0);
        case Op::kTimer:
            return on_timer();
        case Op::kSignal:
            return on_signal();
        case Op::kWake:
            return arm_wake();
        case Op::kSendZc:
            return on_send_zc(cqe);
        case Op::kNone:
            return;
        default:
            break;
    }
    const std::uint32_t slot = index_of(cqe.user_data);
    Connection* c = conns_.find(slot, generation_of(cqe.user_data));
    if (c == nullptr) {
        // A completion for a slot that was already released cannot happen: a slot is released
        // only when no operation names it. Recycle a buffer it carries anyway.
        if (op == Op::kRecv && (cqe.flags & IORING_CQE_F_BUFFER) != 0) {
            uring_.recycle_buffer(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
        }
        return;
    }
    const ConnRef ref{*c, slot};
    switch (op) {
        case Op::kRecv:
        case Op::kPoll:
            inbox_.on_completion(
                ref, cqe.res, cqe.flags,
                [&](std::uint8_t* data, std::size_t n) { input(ref, data, n); },
                [&] { input_gone(ref); });
            return maybe_release(ref);
        case Op::kSend:
            return on_send(ref, cqe.res);
        case Op::kClose:
            return on_close(ref);
        default:
            return;
    }
}

void Server::on_accept(int res, bool more) {
    const int fd = listener_.on_accept(res, more, stopping_);
    if (fd < 0) return;
    stats_->accepted.add();
    if (stopping_) {
        close(fd);
        return;
    }
    // Over --max-conns a few connections are still taken, to answer their head with a 503.
    const bool over = conns_.size() - refused_open_ >= max_conns_;
    const std::uint32_t slot =
        over && refused_open_ >= kRefusalReserve ? core::Slab<Connection>::kFull : conns_.emplace();
    if (over) note_refused();
    if (slot == core::Slab<Connection>::kFull) {
        stats_->rejected.add();
        close(fd);
    } else if (ops_.fixed_files() && uring_.register_file(slot, fd) != 0) {
        stats_->rejected.add();
        close(fd);
        conns_.erase(slot);
    } else {
        conns_[slot].fd = fd;
        if (zc_check_paths_ && paths_.socket_copies(fd)) Outbox::disable_zero_copy(conns_[slot]);
        conns_[slot].refused = over;
        refused_open_ += over ? 1 : 0;
        stats_->rejected.add(over ? 1 : 0);
        bound_dead_peers(fd, options_);
        if (tls_) attach_tls(conn(slot));
        stats_->connections.set(conns_.size());
        set_deadline(conn(slot), kHandshakeTimer);
        inbox_.arm(conn(slot));
    }
}

void Server::note_refused() {
    if (!refused_log_.allow(now_)) return;
    log_event(LogLevel::kWarn, "conn_refused",
              "reason=max-conns max_conns=%u answer=\"503 Retry-After: 1\" suppressed=%llu",
              max_conns_, static_cast<unsigned long long>(refused_log_.suppressed()));
}

void Server::arm_timer() {
    const core::Nanos tick = options_.tick;
    tick_.tv_sec = tick / core::kSecond;
    tick_.tv_nsec = tick % core::kSecond;
    io_uring_sqe* sqe = uring_.sqe();
    io_uring_prep_timeout(sqe, &tick_, 0, 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(Op::kTimer, 0, 0));
}

void Server::on_timer() {
    if (!stopping_) listener_.resume();
    // A tick without any input: give the memory that traffic used back to the system, so an
    // idle worker's footprint is its connections, not its busiest moment.
    if (!received_since_tick_ && !memory_released_ && !inbox_.has_held()) {
        buffers_release_due_ = !inbox_.poll_mode();
        pool_.trim();
        outbox_.release_memory();
        malloc_trim(0);
        memory_released_ = true;
    } else if (now_ - burst_released_at_ >= kBurstPeriod) {
        release_burst_memory();
    }
    received_since_tick_ = false;
    timers_.expire(now_, [this](std::uint32_t slot) { on_deadline(conn(slot)); });
    arm_timer();
}

// Many idle connections answering heartbeats leave few ticks without input, so the quiet tick
// may never come: every kBurstPeriod the send arena and the queue nodes beyond what the last two
// periods needed, the cached blocks below the fixed-buffer size and the receive buffers' pages
// go back anyway (what a burst grew; a loop under steady traffic keeps what it uses and
// allocates nothing; the receive buffers' pages it touches again cost a page fault each, 256
// per worker per period).
void Server::release_burst_memory() {
    burst_released_at_ = now_;
    buffers_release_due_ = !inbox_.poll_mode();
    outbox_.end_period();
    const std::size_t before = outbox_.retained_bytes() + pool_.stats().cached_bytes;
    outbox_.release_memory();
    pool_.trim_unhooked();
    const std::size_t after = outbox_.retained_bytes() + pool_.stats().cached_bytes;
    if (before - after >= kBurstTrimBytes) malloc_trim(0);
}

// Gives the receive buffers' pages back (MADV_DONTNEED: the next write into one faults in a
// zeroed page). Only when no buffer holds bytes not yet handled: none held by the Inbox (input
// paused by backpressure) and no completion waiting, in the ring or in the kernel's overflow
// list, that may name a buffer the kernel filled. The kernel fills buffers only inside
// io_uring_enter (DEFER_TASKRUN) or on a system call's way out (COOP_TASKRUN), and none runs
// between the checks and the madvise; under SQPOLL the kernel thread may fill one at any
// moment, so release_buffer_memory() keeps them.
void Server::release_receive_buffers() noexcept {
    io_uring* ring = uring_.ring();
    if (inbox_.has_held() || io_uring_cq_ready(ring) != 0 || io_uring_cq_has_overflow(ring)) {
        return;  // try again after the next batch
    }
    uring_.release_buffer_memory();
    buffers_release_due_ = false;
}

void Server::arm_signals() {
    io_uring_sqe* sqe = uring_.sqe();
    io_uring_prep_read(sqe, signal_fd_, &signal_info_, sizeof signal_info_, 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(Op::kSignal, 0, 0));
}

// SIGHUP reloads the TLS context, runs the reload hook and keeps listening for signals;
// SIGINT/SIGTERM stop the loop.
void Server::on_signal() {
    if (signal_info_.ssi_signo != SIGHUP) return stop();
    reload_tls();
    if (reload_) reload_();
    arm_signals();
}

void Server::apply_limits(const ServerOptions& limits) {
    options_.max_message = limits.max_message;
    ws_limits_.max_message = limits.max_message;
    options_.max_backpressure = limits.max_backpressure;
    outbox_.set_max_backpressure(limits.max_backpressure);
    options_.max_groups_per_conn = limits.max_groups_per_conn;
    groups_.set_max_groups(limits.max_groups_per_conn);
    options_.max_errors = limits.max_errors;
    options_.handshake_timeout = limits.handshake_timeout;
    options_.close_timeout = limits.close_timeout;
}

void Server::arm_wake() {
    if (stopping_) return;
    io_uring_sqe* sqe = uring_.sqe();
    io_uring_prep_read(sqe, relay_->wake_fd(), &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(Op::kWake, 0, 0));
}

// Stops accepting, sends 1001 to every open connection and gives the closing handshakes
// close_timeout (plus a tick) before the loop gives up on the stragglers.
void Server::begin_shutdown() {
    stopping_ = true;
    stop_deadline_ = now_ + options_.close_timeout + 2 * options_.tick;
    listener_.cancel();
    for (std::uint32_t slot = 0; slot < conns_.high_water(); ++slot) {
        if (!conns_.live(slot)) continue;
        const ConnRef c = conn(slot);
        if (c.conn.state == ConnState::kOpen) {
            begin_close(c, close_code::kGoingAway, "server shutting down", CloseMode::kGraceful);
        } else if (c.conn.state == ConnState::kHandshake) {
            abort(c);
        }
    }
}

void Server::set_deadline(ConnRef c, Timer timer) {
    core::Nanos timeout = options_.close_timeout;
    if (timer == kHandshakeTimer) timeout = options_.handshake_timeout;
    if (timer == kPingTimer) timeout = options_.ping_interval;
    if (timer == kIdleTimer) timeout = options_.idle_timeout - options_.ping_interval;
    timers_.set(c.slot, timer, now_ + timeout);
}

// A handshake, closing handshake or linger took too long: abort (an open connection's deadline
// is its heartbeat's). A connection still waiting for
// its operations after that gets them cancelled (and is checked again a timeout later).
void Server::on_deadline(ConnRef c) {
    if (c.conn.state == ConnState::kOpen) return on_heartbeat(c);
    if (c.conn.state == ConnState::kAborting) {
        io_uring_sqe* sqe = uring_.sqe();
        io_uring_prep_cancel_fd(sqe, c.conn.fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, encode_user_data(Op::kNone, 0, 0));
        set_deadline(c, kCloseTimer);
        return;
    }
    if (c.conn.state != ConnState::kLingering) stats_->closes_timeout.add();
    abort(c, /*reset=*/true);
    maybe_release(c);
}

}  // namespace herald::net
