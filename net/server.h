// One herald worker: an io_uring event loop that accepts WebSocket clients, runs the group
// protocol and fans messages out to group members.
//
// Techniques (see docs/ARCHITECTURE.md):
//  - multishot accept; multishot recv into a provided-buffer ring (poll + recv() fallback);
//  - connections in a slab, named in user_data by slot and generation (net/user_data.h);
//  - registered files; SINGLE_ISSUER | DEFER_TASKRUN where the kernel has them;
//  - one outbound frame per message, shared by reference by every recipient's send queue;
//  - all frames due to a connection in one loop pass leave in one send (sendmsg with iovecs);
//  - one io_uring_submit per loop pass.
#pragma once

#include <sys/signalfd.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/block.h"
#include "core/group_table.h"
#include "core/result.h"
#include "core/slab.h"
#include "net/command.h"
#include "net/connection.h"
#include "net/relay.h"
#include "net/server_options.h"
#include "net/uring.h"
#include "net/user_data.h"
#include "net/worker_stats.h"

namespace herald::net {

// The msghdrs and iovecs of one loop pass's multi-frame sends. The kernel copies them when the
// sends are submitted (IORING_FEAT_SUBMIT_STABLE), so the arena is emptied every pass and its
// memory follows the busiest pass, not the number of connections.
class SendArena {
  public:
    static constexpr std::size_t kMaxFrames = 64;  // frames one sendmsg carries at most

    // A zeroed msghdr whose msg_iov has room for `frames` (<= kMaxFrames) iovecs; valid until
    // reset().
    msghdr* take(std::size_t frames);
    // Returns the last take()'s unused iovecs: it used only `used` of them.
    void shrink_last(msghdr* m, std::size_t used) noexcept;
    void reset() noexcept;

  private:
    struct Chunk {
        static constexpr std::size_t kIovecs = 4096;
        static constexpr std::size_t kHeaders = 512;
        iovec iov[kIovecs];
        msghdr headers[kHeaders];
        std::size_t iov_used = 0;
        std::size_t headers_used = 0;
    };
    std::vector<std::unique_ptr<Chunk>> chunks_;
    std::size_t current_ = 0;
};

class Server {
  public:
    explicit Server(const ServerOptions& options, WorkerStats* stats = nullptr);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Listens and sets up io_uring. Returns the bound endpoint (port 0 resolved), or an error
    // line naming the cause and the fix.
    core::Result<Endpoint> start();

    // Runs the loop until SIGINT/SIGTERM (when options.handle_signals; start() blocks them) or
    // stop(); then closes every connection with 1001 and returns. Returns "" or an error line.
    std::string run();

    // Asks the loop to shut down gracefully. Any thread may call it; the loop notices within
    // a tick (100 ms).
    void stop() noexcept { stop_requested_.store(true, std::memory_order_relaxed); }

    // Delivers `message` as a text frame to this worker's members of `group`.
    void deliver(std::string_view group, std::span<const std::uint8_t> message);
    // Delivers an already encoded frame (the caller keeps its reference): events from other
    // processes.
    void deliver_frame(std::string_view group, core::Block* frame);
    bool has_members(std::string_view group) const { return !groups_.members(group).empty(); }
    // Calls fn(group id) for every group with a local member.
    template <class Fn>
    void for_each_group(Fn&& fn) const {
        groups_.for_each_group([&](std::string_view group, std::size_t) { fn(group); });
    }
    core::BlockPool& pool() noexcept { return pool_; }

    // Links this worker to the other processes (before run()); null: single process.
    void set_relay(Relay* relay) noexcept { relay_ = relay; }

    // Replaces what GET /stats answers (the multi-process master renders every worker's).
    void set_stats_renderer(std::function<std::string()> renderer) {
        stats_renderer_ = std::move(renderer);
    }
    std::string render_own_stats() const;

    const WorkerStats& stats() const noexcept { return *stats_; }
    const char* recv_mode_name() const noexcept;

  private:
    // --- loop (server.cc)
    void arm_accept();
    void arm_timer();
    void arm_signals();
    void arm_wake();
    bool wait_for_work(int& error);
    void handle_completion(const io_uring_cqe& cqe);
    void on_accept(int res, bool more);
    void on_timer();
    void on_signal();
    void begin_shutdown();
    // Deadlines: each timer list holds connections whose deadline is now + its timeout, so
    // appending keeps it sorted and expiring looks only at its head.
    enum Timer : std::uint8_t { kNoTimer = 0, kHandshakeTimer, kCloseTimer, kTimers };
    void set_deadline(Connection& c, std::uint32_t slot, Timer timer);
    void clear_deadline(Connection& c, std::uint32_t slot);
    void expire_deadlines(core::Nanos now);
    void on_deadline(Connection& c, std::uint32_t slot);

    // --- connection I/O (server_io.cc)
    void arm_recv(Connection& c, std::uint32_t slot);
    void on_recv(Connection& c, std::uint32_t slot, int res, unsigned flags);
    void on_poll(Connection& c, std::uint32_t slot, int res, unsigned flags);
    void on_send(Connection& c, std::uint32_t slot, int res);
    void on_close(Connection& c, std::uint32_t slot);
    void input(Connection& c, std::uint32_t slot, std::uint8_t* data, std::size_t n);
    bool enqueue(Connection& c, std::uint32_t slot, core::Block* frame);
    void mark_dirty(Connection& c, std::uint32_t slot);
    void flush();
    void start_send(Connection& c, std::uint32_t slot);
    void half_close(Connection& c, std::uint32_t slot);
    // reset: drop what the kernel still holds for the peer (RST instead of FIN), for peers that
    // stopped reading or timed out.
    void abort(Connection& c, std::uint32_t slot, bool reset = false);
    void maybe_release(Connection& c, std::uint32_t slot);
    void leave_groups(std::uint32_t slot);

    // --- protocol (server_ws.cc)
    struct WsHandler;
    void handshake_input(Connection& c, std::uint32_t slot, std::uint8_t* data, std::size_t n);
    void answer_head(Connection& c, std::uint32_t slot, std::string_view head);
    void http_reply(Connection& c, std::uint32_t slot, int status, std::string_view type,
                    std::string_view body);
    void ws_input(Connection& c, std::uint32_t slot, std::uint8_t* data, std::size_t n);
    bool on_command(Connection& c, std::uint32_t slot, std::span<const std::uint8_t> text);
    bool send_error(Connection& c, std::uint32_t slot, ErrorCode code);
    // Starts the closing handshake with `code`. drop_unsent: discard frames not yet in flight
    // (a reader too slow to matter). fail: protocol failure, shut down once the frame is out.
    void begin_close(Connection& c, std::uint32_t slot, std::uint16_t code, std::string_view reason,
                     bool drop_unsent, bool fail);
    void fan_out(std::span<const std::uint32_t> members, core::Block* frame);

    std::uint64_t user_data(Op op, std::uint32_t slot) {
        return encode_user_data(op, conns_.generation(slot), slot);
    }

    ServerOptions options_;
    std::unique_ptr<WorkerStats> own_stats_;
    Relay* relay_ = nullptr;
    WorkerStats* stats_;
    Uring uring_;
    int listen_fd_ = -1;
    int signal_fd_ = -1;
    bool poll_mode_ = false;    // recv fallback: poll + recv()
    bool fixed_files_ = false;  // connections live in the registered-file table
    std::atomic<bool> stop_requested_{false};
    bool stopping_ = false;
    bool accept_paused_ = false;        // out of descriptors: retry on the next tick
    bool received_since_tick_ = false;  // any input since the last tick
    bool memory_released_ = false;      // idle memory already given back
    core::Nanos stop_deadline_ = 0;
    core::Nanos now_ = 0;  // refreshed once per loop pass

    core::Slab<Connection> conns_;
    core::GroupTable groups_;
    core::BlockPool pool_;
    SendNodePool nodes_;
    SendArena send_arena_;
    CommandParser parser_;
    WsLimits ws_limits_;
    std::array<core::Block*, kErrorCodeCount> error_frames_{};  // encoded once at start

    struct Dirty {
        std::uint32_t slot;
        std::uint32_t generation;
    };
    std::vector<Dirty> dirty_;            // connections with frames to send this pass
    std::vector<std::uint32_t> victims_;  // members to close after a fan-out
    struct TimerList {
        std::uint32_t head = kNoSlot;
        std::uint32_t tail = kNoSlot;
    };
    static constexpr std::uint32_t kNoSlot = UINT32_MAX;
    std::array<TimerList, kTimers> timers_{};

    __kernel_timespec tick_{};
    signalfd_siginfo signal_info_{};
    std::uint64_t wake_value_ = 0;                 // target of the eventfd read
    std::unique_ptr<std::uint8_t[]> poll_buffer_;  // poll mode: one receive buffer for all
    std::function<std::string()> stats_renderer_;
};

}  // namespace herald::net
