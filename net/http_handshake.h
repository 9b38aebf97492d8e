// The HTTP/1.1 side of a connection (RFC 6455 §4, RFC 9112): finding and judging the request
// head, computing Sec-WebSocket-Accept, and writing the responses herald sends.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::net {

constexpr std::size_t kMaxRequestHead = 8 * 1024;  // larger heads get 431

// Looks for the blank line that ends a request head in buf[0..n). `scan_from` carries the
// search position between calls (start it at 0) so a head that arrives one byte per read is
// scanned once overall, not once per read. Returns the head's length including the final
// CRLFCRLF, or 0 while it is incomplete. Bare LF line ends are accepted too. After a call,
// `scan_from` is n (incomplete) or the returned length; a `scan_from` past n restarts at 0.
std::size_t find_head_end(const std::uint8_t* buf, std::size_t n, std::size_t& scan_from) noexcept;

// What a complete request head asks for, and what herald answers.
enum class HeadVerdict : std::uint8_t {
    kUpgrade,           // valid WebSocket upgrade: answer 101 (key is set)
    kPlain,             // valid GET without an upgrade: the server answers by target
    kBadRequest,        // 400: malformed, or an upgrade missing/invalid Host, Key, Connection
    kMethodNotAllowed,  // 405: not GET (Allow: GET)
    kUpgradeRequired,   // 426: an upgrade with a Sec-WebSocket-Version other than 13
};

struct RequestHead {
    HeadVerdict verdict = HeadVerdict::kBadRequest;
    std::string_view target;  // request-target, e.g. "/" or "/stats" (valid unless 400)
    std::string_view key;     // Sec-WebSocket-Key, trimmed (kUpgrade only)
    const char* reason = "";  // why, for 4xx answers: one short line
    // kUpgrade only (the upgrade gate judges them): the last Origin and Authorization values,
    // trimmed; has_origin says whether an Origin header was present at all.
    std::string_view origin;
    std::string_view authorization;
    bool has_origin = false;
};

// Judges a complete head (as delimited by find_head_end). Views point into `head`.
// Header names are case-insensitive; Upgrade and Connection are comma lists whose tokens are
// compared case-insensitively; Sec-WebSocket-Key must be base64 of exactly 16 bytes;
// Sec-WebSocket-Version must be 13; Host is required for an upgrade; obsolete line folding,
// a header line without a colon or a malformed request line is 400.
// Checks run in this order: syntax (400), method (405), then, only for an upgrade, the upgrade
// rules (400) and last the version (426). One empty line before the request line is ignored
// (RFC 9112 §2.2); bytes after the first blank line are not part of the head. The target must
// be visible ASCII; more than one Host header is 400 for any request.
RequestHead parse_request_head(std::string_view head) noexcept;

// Pieces of RFC 9112 parsing, shared with other HTTP servers of herald (the hub's API).

struct RequestLine {
    std::string_view method;
    std::string_view target;
    char minor = '0';  // HTTP/1.<minor>
};
// The reason parse_request_line() gives for an HTTP major version other than 1.
inline constexpr char kUnsupportedHttpVersion[] = "unsupported HTTP version";
// Fills `out` from a request line (line end removed); nullptr, or the reason it is malformed.
const char* parse_request_line(std::string_view line, RequestLine& out) noexcept;
// "Name: value" (line end removed) into a token name and a value without surrounding
// whitespace; nullptr, or the reason the line is malformed (folding, no colon, controls...).
const char* split_header_line(std::string_view line, std::string_view& name,
                              std::string_view& value) noexcept;
// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

// Hands out the lines of a head one at a time, without their LF or CRLF.
class LineReader {
  public:
    explicit LineReader(std::string_view text) noexcept : rest_(text) {}

    // False when no complete line (one ending in LF) is left.
    bool next(std::string_view& line) noexcept {
        const std::size_t lf = rest_.find('\n');
        if (lf == std::string_view::npos) return false;
        line = rest_.substr(0, lf);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        rest_.remove_prefix(lf + 1);
        return true;
    }

  private:
    std::string_view rest_;  // the bytes after the last line handed out
};

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), 28 characters.
std::array<char, 28> websocket_accept(std::string_view key) noexcept;

// Loads OpenSSL's SHA-1 (its default provider, about 2.4 MiB once per process) and this
// thread's digest context, so the first handshake does not pay for it and a worker's memory
// before its first connection is its memory at rest. Call once at start-up.
void prepare_websocket_accept() noexcept;

// "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection, Sec-WebSocket-Accept, then each
// line of `extra_headers` (already "Name: value\r\n" formatted), then the blank line.
std::string switching_protocols_response(std::string_view key, std::string_view extra_headers = {});

// A complete response with `Connection: close`, Content-Length and the given body; no
// Content-Type header when `content_type` is empty.
// 405 adds `Allow: GET`; 401 adds `WWW-Authenticate: Bearer` (RFC 6750 §3); 426 adds `Upgrade:
// websocket` and `Sec-WebSocket-Version: 13`.
std::string http_response(int status, std::string_view content_type, std::string_view body);

// The reason phrase for the statuses herald sends ("Bad Request", ...); "" for others (an empty
// reason phrase is valid HTTP/1.1).
std::string_view reason_phrase(int status) noexcept;

}  // namespace herald::net
