// One herald worker: an io_uring event loop that accepts WebSocket clients, runs the group
// protocol and fans messages out to group members. The loop composes its parts:
//   Listener (accept)  Inbox (receive)  Outbox (send)  GroupFanOut (groups, fan-out)
//   http_answer (the HTTP side)  core::TimerLists (deadlines)  ConnOps (connection SQEs)
//
// Techniques (see docs/ARCHITECTURE.md):
//  - multishot accept; multishot recv into a provided-buffer ring (poll + recv() fallback);
//  - connections in a slab, named in user_data by slot and generation (net/user_data.h);
//  - registered files; SINGLE_ISSUER | DEFER_TASKRUN where the kernel has them;
//  - one outbound frame per message, shared by reference by every recipient's send queue;
//  - all frames due to a connection in one loop pass leave in one send (net/outbox.h);
//  - one io_uring_submit per loop pass.
#pragma once

#include <sys/signalfd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/block.h"
#include "core/log_limiter.h"
#include "core/result.h"
#include "core/slab.h"
#include "core/timer_list.h"
#include "net/command.h"
#include "net/conn_ops.h"
#include "net/connection.h"
#include "net/fan_out.h"
#include "net/fixed_buffers.h"
#include "net/http_answer.h"
#include "net/inbox.h"
#include "net/listener.h"
#include "net/local_paths.h"
#include "net/outbox.h"
#include "net/relay.h"
#include "net/server_options.h"
#include "net/tls_context.h"
#include "net/upgrade_gate.h"
#include "net/uring.h"
#include "net/user_data.h"
#include "net/worker_stats.h"

namespace herald::net {

// How begin_close() treats what is still queued.
enum class CloseMode : std::uint8_t {
    kGraceful,    // the close frame follows the queued frames; wait for the peer's close
    kDropUnsent,  // drop frames not yet in flight first (a reader too slow to matter)
    kFail,        // a protocol failure: drop unsent frames, shut down once the close is out
};

class Server final : public RecordSink {
  public:
    explicit Server(const ServerOptions& options, WorkerStats* stats = nullptr);
    ~Server() override;
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Listens and sets up io_uring. Returns the bound endpoint (port 0 resolved), or an error
    // line naming the cause and the fix.
    core::Result<Endpoint> start();

    // Runs the loop until SIGINT/SIGTERM (when options.handle_signals; start() blocks them) or
    // stop(); then closes every connection with 1001 and returns. An error line when
    // io_uring_enter fails.
    core::Status run();

    // Asks the loop to shut down gracefully. Any thread may call it; the loop notices within
    // a tick (100 ms).
    void stop() noexcept { stop_requested_.store(true, std::memory_order_relaxed); }

    // RecordSink: events other processes published (through Relay::poll), on the loop thread.
    // wants: whether `group` has a local member. deliver: queues the encoded frame (the caller
    // keeps its reference) to the local members. resync: announces every group with a local
    // member again (Relay::interest).
    bool wants(std::string_view group) override { return groups_.has_members(group); }
    core::BlockPool& pool() noexcept override { return pool_; }
    void deliver(std::uint32_t from, std::string_view group, core::Block* frame) override;
    void resync(std::uint32_t /*from*/) override { groups_.announce_all(); }
    // lost: closes the members of `group` (every group's when empty) with 1013 and counts
    // closes_lost_remote (a peer hub dropped some of the group's messages).
    void lost(std::uint32_t from, std::string_view group) override;
    // lapped: this worker, stalled, lost `records` of process `from`'s records and cannot tell
    // whose: counts records_lapped and closes every group member with 1013
    // (closes_undeliverable).
    void lapped(std::uint32_t from, std::uint64_t records) override;

    // Links this worker to the other processes (before run()); null: single process.
    void set_relay(Relay* relay) noexcept {
        relay_ = relay;
        groups_.set_relay(relay);
    }

    // Replaces what GET /stats answers (the multi-process master renders every worker's);
    // render_own_stats() by default.
    void set_stats_renderer(std::function<std::string()> renderer) {
        stats_renderer_ = std::move(renderer);
    }
    std::string render_own_stats() const;

    // What SIGHUP does in this loop (when options.handle_signals): `hook` runs on the loop
    // thread, between completions; it may call apply_limits() (and, later, reload certificates
    // or token keys). None by default: SIGHUP is then read and ignored.
    void set_reload(std::function<void()> hook) { reload_ = std::move(hook); }
    // Applies the limits that can change while connections are open: max_message (frames read
    // from now on), max_backpressure (the next frame queued), max_groups_per_conn (the next
    // join), max_errors, handshake_timeout and close_timeout (deadlines set from now on). The
    // other fields of `limits` are ignored (they need a restart).
    void apply_limits(const ServerOptions& limits);
    // Whether the listener speaks wss:// (options.tls.cert given).
    bool tls() const noexcept { return tls_.has_value(); }
    // SIGHUP: rebuilds the TLS context from its files; connections made after it use the new
    // certificate, live ones keep theirs. When the new files are broken the old context keeps
    // serving and one line on stderr says why. Nothing without TLS.
    void reload_tls();

    const WorkerStats& stats() const noexcept { return *stats_; }
    const char* recv_mode_name() const noexcept { return inbox_.mode_name(); }

  private:
    // --- loop (server.cc)
    void arm_timer();
    void arm_signals();
    void arm_wake();
    // Submits and waits for completions (the hot path: an errno out-parameter, no string).
    bool wait_for_work(int& error);
    void handle_completion(const io_uring_cqe& cqe);
    void on_accept(int res, bool more);
    // Logs (once a second, with the count held back) that a connection was over --max-conns.
    void note_refused();
    // SIGINT/SIGTERM stop the loop; SIGHUP reloads the TLS context and runs the reload hook.
    void on_signal();
    void on_timer();
    // Every kBurstPeriod, whatever the input: gives back the send arena and queue nodes no
    // recent pass needed (Outbox::release_memory) and the cached blocks no fixed buffer uses;
    // trims the heap (malloc_trim) when that freed at least kBurstTrimBytes; and has the
    // receive buffers' pages given back at the top of the next pass.
    void release_burst_memory();
    void release_receive_buffers() noexcept;
    static constexpr core::Nanos kBurstPeriod = 5 * core::kSecond;
    static constexpr std::size_t kBurstTrimBytes = 128 * 1024;
    void begin_shutdown();
    // Deadlines (core/timer_list.h): one list per timeout, so each stays sorted.
    // kPingTimer and kIdleTimer hold open connections (heartbeats, server_liveness.cc).
    enum Timer : std::uint8_t {
        kNoTimer = 0,
        kHandshakeTimer,
        kCloseTimer,
        kPingTimer,
        kIdleTimer,
        kTimers
    };
    void set_deadline(ConnRef c, Timer timer);
    void clear_deadline(ConnRef c) { timers_.clear(c.slot); }
    void on_deadline(ConnRef c);

    // --- heartbeats and dead peers (server_liveness.cc)
    // An open connection's heartbeat deadline passed: re-arm, ping, or close it idle.
    void on_heartbeat(ConnRef c);
    // Kernel bounds on an accepted socket `fd`: SO_KEEPALIVE (first probe after ping_interval)
    // and TCP_USER_TIMEOUT = idle_timeout (tcp(7)): unacknowledged data fails the connection
    // (ETIMEDOUT) instead of being retransmitted for ~15 minutes.
    static void bound_dead_peers(int fd, const ServerOptions& options) noexcept;

    // --- kernel paths (server_kernel.cc): SQPOLL, NAPI busy polling, zero-copy sends
    // One start-up line per asked-for ring option (--sqpoll, --busy-poll-us) saying what took.
    void report_ring_options();
    // Decides --zerocopy-threshold (probe, fixed buffers, auto's paths) and logs one line.
    void start_zero_copy();
    void on_send_zc(const io_uring_cqe& cqe);

    // --- connection I/O (server_io.cc)
    void on_send(ConnRef c, int res);
    void on_close(ConnRef c);
    void input(ConnRef c, std::uint8_t* data, std::size_t n);
    // The peer is gone (EOF, reset, cancelled): c is aborted.
    void input_gone(ConnRef c);
    // Once per pass with a relay: holds the clients' input while the relay is congested
    // (counted in backpressure_events / backpressure_ns), hands held input on once it is not.
    void apply_backpressure();
    // What the connection's protocol gets: the bytes read (ws://) or decrypted (wss://).
    void plain_input(ConnRef c, std::uint8_t* data, std::size_t n);
    void half_close(ConnRef c);
    // reset: drop what the kernel still holds for the peer (RST instead of FIN), for peers that
    // stopped reading or timed out.
    void abort(ConnRef c, bool reset = false);
    void maybe_release(ConnRef c);

    // --- TLS (server_tls.cc)
    struct TlsSink;
    // Loads the context (an error line naming the file and the problem), logs the record path.
    core::Status start_tls();
    // Accept: gives c its TLS session.
    void attach_tls(ConnRef c);
    // Ciphertext from c: decrypted bytes go to plain_input, the session's output is sent.
    void tls_input(ConnRef c, std::uint8_t* data, std::size_t n);
    // c's session ended (close_notify, EOF or a failure): send what it holds (an alert,
    // close_notify), then close.
    void tls_end(ConnRef c);

    // --- protocol (server_ws.cc)
    struct WsHandler;
    void handshake_input(ConnRef c, std::uint8_t* data, std::size_t n);
    // Queues the answer to c's request head; c becomes a WebSocket or ends after the answer.
    void answer_http(ConnRef c, HttpAnswer answer);
    // The answer to an upgrade request: a refusal from gate_ (counted), or the 101.
    HttpAnswer admit_upgrade(ConnRef c, const RequestHead& req);
    void ws_input(ConnRef c, std::uint8_t* data, std::size_t n);
    bool on_command(ConnRef c, std::span<const std::uint8_t> text);
    bool send_error(ConnRef c, ErrorCode code);
    // Queues `frame` to c, closing c (close_over_limit) when over --max-backpressure. Returns
    // whether it was queued.
    bool send_or_close(ConnRef c, core::Block* frame);
    // Starts the closing handshake with `code` (RFC 6455 7.4) and leaves c's groups.
    void begin_close(ConnRef c, std::uint16_t code, std::string_view reason, CloseMode mode);
    // Counts closes_backpressure and closes c with 1008 "send queue over limit".
    void close_over_limit(ConnRef c);

    ConnRef conn(std::uint32_t slot) noexcept { return {conns_[slot], slot}; }

    // The deadline lists reach a connection's TimerLink through its slot.
    struct TimerLinks {
        core::Slab<Connection>* conns;
        core::TimerLink& operator()(std::uint32_t slot) const { return (*conns)[slot].timer; }
    };

    ServerOptions options_;
    std::unique_ptr<WorkerStats> own_stats_;
    Relay* relay_ = nullptr;
    WorkerStats* stats_;
    Uring uring_;
    FixedBuffers fixed_{uring_};   // the pool's large blocks as fixed buffers (zero-copy sends)
    LocalPaths paths_;             // --zerocopy-threshold auto: addresses over loopback / veth
    bool zc_check_paths_ = false;  // auto: check each accepted connection's path
    Listener listener_{uring_};
    int signal_fd_ = -1;
    std::atomic<bool> stop_requested_{false};
    bool stopping_ = false;
    bool received_since_tick_ = false;   // any input since the last tick
    bool memory_released_ = false;       // idle memory already given back
    core::Nanos burst_released_at_ = 0;  // the last release_burst_memory()
    bool buffers_release_due_ = false;   // release_receive_buffers() at the top of the next pass
    core::Nanos stop_deadline_ = 0;
    core::Nanos now_ = 0;  // refreshed once per loop pass

    // Connections over --max-conns held to answer their head with a 503 (then closed); beyond
    // this many at once, further ones are closed at once.
    static constexpr std::uint32_t kRefusalReserve = 16;
    std::uint32_t max_conns_;         // --max-conns (or what RLIMIT_NOFILE allows)
    std::uint32_t refused_open_ = 0;  // connections in the reserve now
    core::LogLimiter refused_log_{core::kSecond};
    std::optional<TlsContext> tls_;  // wss://: the certificate and key, reloaded on SIGHUP
    core::Slab<Connection> conns_;
    GroupFanOut groups_;
    core::BlockPool pool_;
    ConnOps ops_{uring_, conns_};  // connection SQEs (fixed files once start() knows)
    Outbox outbox_;
    Inbox inbox_{ops_, conns_, *stats_};
    core::Nanos held_since_ = 0;  // when the worker began holding its clients' input (0: not)
    CommandParser parser_;
    WsLimits ws_limits_;
    std::array<core::Block*, kErrorCodeCount> error_frames_{};  // encoded once at start
    core::Block* ping_frame_ = nullptr;                         // the heartbeat ping, shared
    UpgradeGate gate_;  // Origin, token and per-IP checks; per-slot permissions

    core::TimerLists<TimerLinks, kTimers> timers_{TimerLinks{&conns_}};

    __kernel_timespec tick_{};
    signalfd_siginfo signal_info_{};
    std::uint64_t wake_value_ = 0;                 // target of the eventfd read
    std::function<std::string()> stats_renderer_;  // GET /stats's body
    std::function<void()> reload_;                 // SIGHUP (set_reload)
};

}  // namespace herald::net
