// TlsContext: the server's OpenSSL 3 SSL_CTX, built from the --tls-cert / --tls-key / --tls-ca
// files, and rebuilt from them on SIGHUP. Also the kTLS probe (detection only; no kTLS path).
//
// Settings every context gets (and why):
//   - TLS 1.2 (RFC 5246) and TLS 1.3 (RFC 8446) only: older versions have no AEAD ciphers.
//   - TLS 1.2 ciphers: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only (Mozilla's
//     "intermediate" list without DHE): forward secrecy and AEAD records, nothing else. TLS 1.3
//     keeps OpenSSL's default suites (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305). The client's
//     order is honoured: every suite offered is strong, and a client without AES instructions
//     (phones) picks ChaCha20 first.
//   - Groups X25519, P-256, P-384.
//   - ALPN (RFC 7301): the server selects "http/1.1"; a client that offers ALPN without it gets
//     the no_application_protocol alert (RFC 7301 §3.2). A client offering no ALPN is served.
//   - No session tickets and no session cache: WebSocket connections live long, each worker
//     process would hold its own ticket keys (a resumed reconnect lands on another worker), and
//     a ticket written after every TLS 1.3 handshake costs bytes and time for nothing.
//   - No TLS 1.2 renegotiation (a client-driven CPU cost), no compression.
//   - SSL_MODE_RELEASE_BUFFERS: an idle connection gives its 16 KiB record buffers back.
//   - With --tls-ca: a client certificate is required and verified against that CA (bundle).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald::net {

// The files a context is built from (paths as given on the command line).
struct TlsFiles {
    std::string cert;  // --tls-cert: PEM, the server certificate first, then its chain
    std::string key;   // --tls-key: PEM private key matching cert
    std::string ca;    // --tls-ca: PEM CA bundle for client certificates; "" = none required
};

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

class TlsContext {
  public:
    // Builds a context from `files`. Errors are one line naming the flag, the file and the
    // problem, e.g. "--tls-key /x.pem: no such file", "--tls-key /k.pem: does not match the
    // certificate in /c.pem", "--tls-cert /c.pem: no certificate found (PEM expected)".
    static core::Result<TlsContext> load(TlsFiles files);

    // Builds a new context from the same files; on success the new one serves every SSL made
    // after this call, on failure the current one stays and the error says why (same form as
    // load()). Live connections keep their SSL objects, which hold a reference to the context
    // they were made from, so nothing is dropped. For SIGHUP.
    core::Status reload();

    // The context new connections use (never null). Valid until the next reload(); an SSL made
    // from it keeps it alive on its own (SSL_new takes a reference).
    SSL_CTX* get() const noexcept { return ctx_.get(); }
    const TlsFiles& files() const noexcept { return files_; }
    // How many successful reloads happened (0 after load()).
    unsigned generation() const noexcept { return generation_; }

  private:
    TlsContext(TlsFiles files, SslCtxPtr ctx) : files_(std::move(files)), ctx_(std::move(ctx)) {}

    TlsFiles files_;
    SslCtxPtr ctx_;
    unsigned generation_ = 0;
};

// Builds a server SSL_CTX from `files` with the settings above (what load() and reload() use).
core::Result<SslCtxPtr> make_server_ssl_ctx(const TlsFiles& files);

// Whether the kernel offers kernel TLS (the "tls" upper-layer protocol) and one log line saying
// which record path herald uses. herald always makes records in user space (OpenSSL); the probe
// only reports, for the log and for docs/ARCHITECTURE.md's kTLS note.
struct KtlsProbe {
    bool available = false;   // "tls" is a word of the ULP list file
    std::string description;  // e.g. "kTLS: not available (tcp_available_ulp: espintcp mptcp);
                              // TLS records are made in user space by OpenSSL"
};
inline constexpr std::string_view kTcpAvailableUlpPath = "/proc/sys/net/ipv4/tcp_available_ulp";
// Reads `path` (space-separated ULP names, see tcp(7) TCP_ULP); an unreadable file counts as
// "not available" with the reason in the description.
KtlsProbe probe_ktls(std::string_view path = kTcpAvailableUlpPath);

}  // namespace herald::net
