// A small blocking WebSocket client for tests, built on herald's own codec: it speaks correct
// RFC 6455 by default and can send anything at all on purpose.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/ws_frame.h"

namespace herald::test {

struct Frame {
    net::Opcode opcode = net::Opcode::kText;
    bool fin = true;
    std::string payload;
    // For close frames: the status code (1005 when the body is empty) and the reason.
    std::uint16_t close_code() const;
    std::string close_reason() const;
};

// Opens a TCP connection to 127.0.0.1:port (or `host`); -1 on failure.
int tcp_connect(std::uint16_t port, const char* host = "127.0.0.1");

// Sends `request` on a fresh connection and reads until the server closes it (or timeout).
std::string http_exchange(std::uint16_t port, std::string_view request, int timeout_ms = 3000,
                          const char* host = "127.0.0.1");

// The same over TLS (no certificate verification): for a wss:// herald's GET /stats.
std::string https_exchange(std::uint16_t port, std::string_view request, int timeout_ms = 3000);

class WsClient {
  public:
    // Connects and upgrades. nullptr on failure, with the reason in *error.
    static std::unique_ptr<WsClient> connect(std::uint16_t port, std::string* error = nullptr,
                                             std::string_view path = "/",
                                             const char* host = "127.0.0.1");
    // The same over TLS (wss://): OpenSSL client, TLS 1.2+, ALPN http/1.1, SNI localhost, no
    // certificate verification (tests check the server's certificate elsewhere).
    static std::unique_ptr<WsClient> connect_tls(std::uint16_t port, std::string* error = nullptr,
                                                 std::string_view path = "/");
    ~WsClient();
    WsClient(const WsClient&) = delete;
    WsClient& operator=(const WsClient&) = delete;

    int fd() const noexcept { return fd_; }
    // The headers of the 101 response (lower-cased names), e.g. "x-herald-worker".
    std::string response_header(std::string_view name) const;

    bool send_text(std::string_view text);
    // A masked frame unless masked=false; rsv goes into the RSV bits.
    bool send_frame(net::Opcode opcode, std::string_view payload, bool fin = true,
                    bool masked = true, std::uint8_t rsv = 0);
    bool send_close(std::uint16_t code, std::string_view reason = {});
    bool send_raw(std::string_view bytes);

    // The next frame, or nullopt on timeout, EOF or a malformed server frame.
    std::optional<Frame> read_frame(int timeout_ms = 3000);
    // The next text frame's payload, skipping nothing: nullopt if the next frame is not text.
    std::optional<std::string> read_text(int timeout_ms = 3000);
    // Reads frames until a close frame; returns its code, or 1006 if the connection ended
    // without one (or timed out).
    std::uint16_t read_until_close(int timeout_ms = 3000);
    // True if the server closed the TCP connection (EOF or reset) within timeout_ms.
    bool wait_eof(int timeout_ms = 3000);
    // True if no frame arrives within timeout_ms.
    bool quiet_for(int timeout_ms);

    // Round trip: a ping, then frames are read until its pong. Every command sent before has
    // been applied when this returns true (the server handles a connection's frames in order).
    // Frames read meanwhile are kept for the next read_frame().
    bool sync(int timeout_ms = 3000);

    // Commands of the protocol (group and message are put into JSON as they are: no escaping).
    bool add_group(std::string_view group);
    bool send_to_group(std::string_view group, std::string_view message);

    void close_socket();

  private:
    explicit WsClient(int fd) : fd_(fd) {}
    static std::unique_ptr<WsClient> upgrade(std::unique_ptr<WsClient> client,
                                             std::string_view path, std::string* error);
    bool fill(int timeout_ms);
    // The connection's bytes: the socket's, or TLS plaintext once ssl_ is set.
    bool write_bytes(const void* data, std::size_t n);
    long read_some(char* buf, std::size_t n);  // > 0 bytes, 0 EOF, < 0 error
    bool readable(int timeout_ms);             // data buffered in TLS or on the socket

    int fd_;
    SSL* ssl_ = nullptr;       // wss:// only
    std::string response_;     // the 101 response head
    std::string buffer_;       // received, not yet parsed
    std::vector<Frame> held_;  // frames read by sync() for later read_frame() calls
};

// A connection and the worker that accepted it (the upgrade's x-herald-worker header).
struct Placed {
    std::unique_ptr<WsClient> ws;
    int worker;
};

// Opens connections to `port` until at least `workers` distinct workers hold `per_worker` each;
// connections to a worker that is already full are dropped. Bounded: 400 attempts, so fewer
// may come back (callers check).
inline std::vector<Placed> spread(std::uint16_t port, int workers, int per_worker) {
    std::vector<Placed> all;
    std::map<int, int> count;
    for (int attempt = 0; attempt < 400; ++attempt) {
        auto ws = WsClient::connect(port);
        if (!ws) continue;
        const int w = std::stoi(ws->response_header("x-herald-worker"));
        if (count[w] >= per_worker) continue;
        ++count[w];
        all.push_back({std::move(ws), w});
        int full = 0;
        for (const auto& [worker, n] : count) full += n >= per_worker ? 1 : 0;
        if (full >= workers) break;
    }
    return all;
}

}  // namespace herald::test
