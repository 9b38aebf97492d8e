// The state of one client connection, as the loop keeps it in its slab.
#pragma once

#include <cstdint>
#include <memory>

#include "core/block.h"
#include "core/clock.h"
#include "core/timer_list.h"
#include "net/send_queue.h"
#include "net/tls_session.h"
#include "net/ws_reader.h"

namespace herald::net {

//  kHandshake ──101──▶ kOpen ──close frame queued──▶ kClosing ──our close sent and
//      │                 │                               │       the peer's received──┐
//      └──4xx / stats──▶ kHttpReply ──reply sent──────────┴──────────────▶ kLingering │
//                                                                   (SHUT_WR, drain) ◀┘
//  any state ──EOF, error, deadline──▶ kAborting (SHUT_RDWR; wait for in-flight ops) ──▶ closed
enum class ConnState : std::uint8_t {
    kHandshake,  // reading the HTTP request head
    kHttpReply,  // an HTTP answer is queued; the connection ends after it
    kOpen,       // WebSocket open: commands flow
    kClosing,    // our close frame is queued or sent; reading until the peer's close frame
    kLingering,  // our side is shut (SHUT_WR); input is discarded until EOF or the deadline
    kAborting,   // shut both ways; waiting for in-flight operations before closing the fd
};

// A wss:// connection's TLS side: its session and the ciphertext block being sent.
struct TlsLink {
    TlsLink(SSL_CTX* ctx, core::BlockPool& pool) : session(ctx, pool) {}
    TlsSession session;      // records in and out (net/tls_session.h)
    core::BlockRef sending;  // ciphertext taken from the session and in flight (or to resend)
    std::uint32_t sent = 0;  // bytes of `sending` the kernel already took
};

struct Connection {
    int fd = -1;
    ConnState state = ConnState::kHandshake;
    std::uint8_t ops = 0;  // io_uring operations in flight that name this slot
    // One bit each (one store to the loop's thread alone; nothing takes their address).
    bool recv_armed : 1 = false;              // a multishot recv (or poll) is active
    bool send_busy : 1 = false;               // a send is in flight
    bool dirty : 1 = false;                   // on the loop's flush list
    bool peer_closed : 1 = false;             // the peer's close frame arrived
    bool fail_fast : 1 = false;               // protocol failure: do not wait for the peer's close
    bool refused : 1 = false;                 // over --max-conns: its head gets 503, then it closes
    bool heard : 1 = false;                   // input arrived since the last heartbeat check
    bool pinged : 1 = false;                  // a heartbeat ping is out, the idle deadline runs
    bool read_held : 1 = false;               // poll mode: a "readable" mark waits in the Inbox
    std::uint8_t zc_pending = 0;              // zero-copy sends whose notification has not come
    std::uint8_t zc_copied = 0;               // notifications in a row saying the kernel copied
    std::uint16_t errors = 0;                 // failed commands in the current error window
    std::uint16_t inflight_frames = 0;        // frames the send in flight covers
    std::uint32_t head_scan = 0;              // find_head_end's resume point (handshake)
    std::uint32_t error_window_start_ms = 0;  // when the error window began (ms, modulo 2^32)
    core::TimerLink timer;                    // its place in the loop's deadline lists
    core::Block* head = nullptr;              // the request head so far (handshake only)
    SendQueue out;                            // frames not yet acknowledged by a send completion
    WsReader reader;                          // frame parsing state
    std::unique_ptr<TlsLink> tls;             // wss:// only: null on a ws:// listener
};

// What each connection costs in its slab slot (plus 4 bytes of slab metadata); keep it so.
static_assert(sizeof(Connection) <= 104, "a Connection grew: idle memory per connection");

// A connection as the loop's functions take it: the object and its slab slot (which names it in
// user_data and in the registered-file table). Cheap to copy; valid while the slot is live.
struct ConnRef {
    Connection& conn;
    std::uint32_t slot;
};

}  // namespace herald::net
