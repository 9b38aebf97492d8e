// The admin/API HTTP server (--admin-listen): POST /publish, GET /stats, /metrics, /healthz,
// /readyz, on libmicrohttpd (Debian 12: 0.9.75).
//
// How it runs: MHD in external mode with MHD_USE_EPOLL, driven by the hub's own epoll loop. MHD
// keeps its sockets in an epoll set of its own; the hub adds that one descriptor (epoll_fd())
// to its epoll set (EPOLLIN), calls run() when it is readable, and waits at most timeout_ms()
// between calls. The handler (the hub) is therefore called on the hub's thread, inside run(),
// and publishes straight onto its rings: no second thread, no lock, no handoff queue, and a
// publish is answered 202 only once it is on the rings. MHD's internal-thread mode would need
// a thread-safe handoff into the hub's loop and a wake-up per publish, for nothing this
// low-rate admin side needs.
//
// What MHD does (was herald's own code in channel/publish_api.cc and channel/hub.cc): request
// line and header parsing (RFC 9112 §2-§5), absolute-form targets (§3.2.2), query strings
// (stripped from the path), Expect: 100-continue (RFC 9110 §10.1.1: answered when the handler
// accepts the head), chunked request bodies (RFC 9112 §7.1), keep-alive and pipelining (one
// request at a time per connection), head size (a head over the connection memory gets MHD's
// own error answer, with an HTML body, and a close), the idle timeout, the connection cap and
// the per-IP cap (MHD closes connections over either cap at once, with no answer).
//
// What this file adds on top: Host checks (RFC 9112 §3.2: 400 for an HTTP/1.1 request without
// Host and for any request with more than one), the bearer token (checked in the handler's
// first call, once the head is complete and before any body byte is read: 401), the body cap
// (413: on Content-Length before the body, else once a chunked body passes it), and a total
// deadline per request: MHD's timeout is an idle timeout that every trickled byte resets, so
// each connection's start (accept, or the end of its previous answer) is kept here and run()
// shuts down (shutdown(2), SHUT_RDWR) any connection that has not finished its answer within
// `request_deadline` of it; MHD then sees the end of stream and frees it.
//
// Memory bound per connection: MHD reads into a per-connection pool of `connection_memory`
// bytes (head, buffered pipelined requests and the response header), and holds one response
// (one answer at a time: it reads no further request while an answer is unsent). A body is
// kept here, up to `max_body`. So the admin side holds at most
// max_conns * (connection_memory + max_body + the largest answer), whatever a client sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "channel/publish_body.h"
#include "core/clock.h"
#include "core/result.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace herald::channel {

// What the hub answers to one publish; AdminServer maps it to the HTTP status.
enum class PublishOutcome : std::uint8_t {
    kAccepted,     // 202 {"accepted":true}: on this host's rings and sent to the peers
    kTooBig,       // 413 {"error":"message_too_big",...}
    kUnavailable,  // 503 {"error":"unavailable",...}: not ready or shutting down; retry later
};

// A batch's answer: `accepted` messages, the first ones in order, were published; when
// `outcome` is not kAccepted the rest were not (the client may resend them).
struct BatchOutcome {
    PublishOutcome outcome = PublishOutcome::kAccepted;
    std::size_t accepted = 0;
};

// GET /readyz: 200 when `ready`, else 503; `json` is the body (e.g. the workers' and the
// cluster links' state).
struct ReadyState {
    bool ready = false;
    std::string json;
};

// What the hub implements. Every call is made on the thread that calls AdminServer::run().
class AdminHandler {
  public:
    virtual ~AdminHandler() = default;
    // Publishes one message (views valid during the call only).
    virtual PublishOutcome publish(std::string_view group_id, std::string_view message) = 0;
    // Publishes `items` in order (all already judged valid); see BatchOutcome.
    virtual BatchOutcome publish_batch(std::span<const PublishItem> items) = 0;
    // The body of GET /stats (application/json) and GET /metrics (Prometheus text 0.0.4).
    virtual std::string stats_json() = 0;
    virtual std::string metrics_text() = 0;
    virtual ReadyState ready() = 0;
};

struct AdminOptions {
    std::string listen = "127.0.0.1:0";  // HOST:PORT (net::parse_endpoint); port 0: any
    std::string token;                   // --api-token; "" accepts every POST /publish
    PublishBodyLimits body;              // message, group id and batch limits
    std::size_t max_body = 0;            // body bytes; 0: 6 * body.max_message + 4096
    unsigned max_conns = 64;             // open connections; MHD closes those over it at once
    unsigned max_conns_per_ip = 16;      // per client address; 0: no per-IP cap
    unsigned idle_timeout_s = 10;        // MHD's idle timeout
    core::Nanos request_deadline = 30 * core::kSecond;  // start to answer sent, see above
    std::size_t connection_memory = 32 * 1024;          // MHD's pool per connection
};

// Counters of the admin side, for /stats and /metrics.
struct AdminCounters {
    std::uint64_t requests = 0;          // answers queued
    std::uint64_t rejected = 0;          // answers >= 400 queued by this file
    std::uint64_t published = 0;         // messages the handler accepted
    std::uint64_t deadline_closes = 0;   // connections shut down at request_deadline
    std::uint64_t open_connections = 0;  // open now (gauge)
};

// Answers the admin endpoints:
//   POST /publish  202 | 400 | 401 (WWW-Authenticate: Bearer) | 413 | 503
//   GET  /stats    200 application/json          GET /metrics  200 text/plain; version=0.0.4
//   GET  /healthz  200 {"ok":true}               GET /readyz   200 | 503 (ReadyState)
//   anything else 404; a known path with another method 405 with Allow (HEAD = GET).
// Not thread-safe: construct, start() and run() on one thread.
class AdminServer {
  public:
    AdminServer(const AdminOptions& options, AdminHandler& handler);
    ~AdminServer();  // stops MHD and closes every connection
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Binds options.listen and starts MHD. Errors name the address and the cause
    // ("--admin-listen 1.2.3.4:80: ..."). Call once.
    core::Status start();

    std::uint16_t port() const noexcept { return port_; }  // the bound port, after start()
    // MHD's epoll descriptor: add it to the caller's epoll set for EPOLLIN.
    int epoll_fd() const noexcept;
    // Milliseconds until run() must be called even without activity (-1: no limit; 0: now).
    int timeout_ms() const noexcept;
    // Does all pending work: accepts, reads, answers, MHD's idle timeouts and the deadlines.
    void run() noexcept;

    // Replaces the bearer token (SIGHUP reload); applies to heads completed from now on.
    void set_token(std::string token) { options_.token = std::move(token); }
    const AdminCounters& counters() const noexcept { return counters_; }

  private:
    struct Conn;
    struct Request;
    class Dispatch;
    struct Callbacks;
    friend class Dispatch;
    friend struct Callbacks;

    void sweep_deadlines(core::Nanos now) noexcept;
    void on_connection(MHD_Connection* c, void** socket_context, int code) noexcept;
    void on_completed(MHD_Connection* c, void** request) noexcept;
    int on_request(MHD_Connection* c, const char* url, const char* method, const char* version,
                   const char* upload, std::size_t* upload_size, void** request) noexcept;

    AdminOptions options_;
    AdminHandler& handler_;
    std::unique_ptr<Dispatch> dispatch_;  // routes and answers requests
    MHD_Daemon* daemon_ = nullptr;
    std::uint16_t port_ = 0;
    Conn* conns_ = nullptr;  // open connections, a doubly linked list (for the deadlines)
    AdminCounters counters_;
};

}  // namespace herald::channel
