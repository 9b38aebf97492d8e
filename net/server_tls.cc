// The TLS side of the worker loop (wss://): each connection's TlsSession sits between the
// receive path and the protocol, and between the send queue and the socket (net/outbox.cc).
// Records are made in user space by OpenSSL; see docs/ARCHITECTURE.md for kTLS.
#include <openssl/ssl.h>

#include <cstdio>

#include "net/http_answer.h"
#include "net/http_handshake.h"
#include "net/server.h"

namespace herald::net {

// Hands what a session decrypts to the protocol. The plaintext lies in the session's scratch
// buffer, which nothing reads again once the call returns, so the protocol may unmask it in
// place as it does a receive buffer.
struct Server::TlsSink final : PlaintextSink {
    Server& server;
    ConnRef c;
    TlsSink(Server& s, ConnRef conn) : server(s), c(conn) {}
    void on_plaintext(std::span<const std::uint8_t> bytes) noexcept override {
        if (c.conn.state == ConnState::kAborting) return;
        server.plain_input(c, const_cast<std::uint8_t*>(bytes.data()), bytes.size());
    }
};

core::Status Server::start_tls() {
    // OpenSSL's one-time set-up (~2.4 MiB of tables) happens now, not on the first connection:
    // an idle worker's memory is then its connections (and herald-load's idle figure is fair).
    OPENSSL_init_ssl(0, nullptr);
    (void)websocket_accept("dGhlIHNhbXBsZSBub25jZQ==");
    if (options_.tls.cert.empty()) return {};
    core::Result<TlsContext> ctx = TlsContext::load(options_.tls);
    if (!ctx) return core::Error{ctx.error()};
    tls_.emplace(std::move(*ctx));
    if (options_.worker_id == 0) {
        std::fprintf(stderr, "herald: %s\n", probe_ktls().description.c_str());
    }
    return {};
}

void Server::reload_tls() {
    if (!tls_) return;
    if (core::Status reloaded = tls_->reload(); !reloaded) {
        std::fprintf(stderr, "herald: SIGHUP: TLS reload failed, the old certificate stays: %s\n",
                     reloaded.error().c_str());
        return;
    }
    std::fprintf(stderr, "herald: SIGHUP: TLS certificate reloaded from %s\n",
                 tls_->files().cert.c_str());
}

void Server::attach_tls(ConnRef c) { c.conn.tls = std::make_unique<TlsLink>(tls_->get(), pool_); }

void Server::tls_input(ConnRef c, std::uint8_t* data, std::size_t n) {
    // Ending after an answer or lingering: nobody listens any more (as on ws://).
    if (c.conn.state == ConnState::kHttpReply || c.conn.state == ConnState::kLingering) return;
    TlsSession& session = c.conn.tls->session;
    TlsSink sink(*this, c);
    const FeedOutcome r = session.feed({data, n}, sink);
    if (c.conn.state == ConnState::kAborting) return;
    if (r.state == TlsState::kHandshaking || r.state == TlsState::kOpen) {
        if (session.output_bytes() > 0) outbox_.kick(c);  // handshake replies
        return;
    }
    const bool plain_http = r.state == TlsState::kFailed &&
                            session.failure() == TlsFailure::kPlainHttp &&
                            c.conn.state == ConnState::kHandshake && Outbox::drained(c.conn);
    if (!plain_http) return tls_end(c);
    // An HTTP request on the TLS port: say in plain text that this port speaks TLS.
    c.conn.tls.reset();
    answer_http(c, tls_required_answer(pool_));
}

void Server::tls_end(ConnRef c) {
    if (c.conn.state == ConnState::kAborting) return;
    if (c.conn.state == ConnState::kOpen) groups_.leave_all(c.slot);
    outbox_.drop_unsent(c.conn);
    if (Outbox::drained(c.conn)) return abort(c);
    // An alert or close_notify (or a send in flight) is still to go: end after it.
    c.conn.state = ConnState::kHttpReply;
    outbox_.kick(c);
    set_deadline(c, kCloseTimer);
}

}  // namespace herald::net
