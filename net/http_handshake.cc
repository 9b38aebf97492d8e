// The HTTP/1.1 side of the WebSocket opening handshake: head scanning, judging and responses.
//
// Everything here reads hostile bytes: each function walks its input once (memchr/find plus
// per-byte table lookups), never indexes outside the given view, allocates nothing while
// judging, and reports problems as a verdict plus a static reason string.
#include "net/http_handshake.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/assert.h"

namespace herald::net {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ---------------------------------------------------------------------------------------------
// Character classes (RFC 9110 §5.6.2, §5.5; RFC 4648 §4)

constexpr std::array<bool, 256> make_tchar_table() noexcept {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) {
        t[static_cast<unsigned char>(c)] = true;
    }
    return t;
}
constexpr std::array<bool, 256> kTchar = make_tchar_table();

constexpr std::uint8_t byte(char c) noexcept { return static_cast<std::uint8_t>(c); }
constexpr bool is_tchar(char c) noexcept { return kTchar[byte(c)]; }
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_base64(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '+' || c == '/';
}
// A control character a field value may not hold (HT is allowed; obs-text 0x80+ is allowed).
constexpr bool is_value_ctl(char c) noexcept {
    return (byte(c) < 0x20 && c != '\t') || byte(c) == 0x7F;
}
// Visible ASCII (VCHAR): no controls, SP, DEL or bytes >= 0x80.
constexpr bool is_vchar(char c) noexcept { return byte(c) > 0x20 && byte(c) < 0x7F; }
constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

bool is_token(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool is_field_value(std::string_view s) noexcept {
    return std::none_of(s.begin(), s.end(), is_value_ctl);
}

// True when the comma-separated list holds `token` (ASCII case-insensitive, OWS around each
// element ignored, empty elements allowed as RFC 9110 §5.6.1 asks of recipients).
bool list_has_token(std::string_view list, std::string_view token) noexcept {
    while (true) {
        const std::size_t comma = list.find(',');
        if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) return false;
        list.remove_prefix(comma + 1);
    }
}

// The canonical base64 length of 16 bytes is 22 alphabet characters and "==". The 2 unused bits
// of the last character are not required to be zero (RFC 4648 §3.5 leaves that to the decoder).
bool is_base64_of_16_bytes(std::string_view s) noexcept {
    return s.size() == 24 && s[22] == '=' && s[23] == '=' &&
           std::all_of(s.begin(), s.begin() + 22, is_base64);
}

// ---------------------------------------------------------------------------------------------
// Request line (RFC 9112 §3): method SP request-target SP HTTP-version

// Non-empty visible ASCII: controls, SP, DEL and bytes >= 0x80 are not URI characters.
bool is_vchar_run(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_vchar);
}

// ---------------------------------------------------------------------------------------------
// Header fields (RFC 9112 §5): what the handshake needs to know about them

struct HeaderFacts {
    bool upgrade_websocket = false;   // some Upgrade header lists "websocket"
    bool connection_upgrade = false;  // some Connection header lists "upgrade"
    bool transfer_encoding = false;   // any Transfer-Encoding header
    bool content = false;             // a Content-Length other than 0
    std::size_t hosts = 0;            // number of Host headers
    std::size_t versions = 0;         // number of Sec-WebSocket-Version headers
    std::size_t keys = 0;             // number of Sec-WebSocket-Key headers
    std::string_view host;            // last Host value, trimmed
    std::string_view version;         // last Sec-WebSocket-Version value, trimmed
    std::string_view key;             // last Sec-WebSocket-Key value, trimmed
    std::string_view origin;          // last Origin value, trimmed
    std::string_view authorization;   // last Authorization value, trimmed
    bool has_origin = false;          // any Origin header
};

// Records one field's value in `facts`; returns nullptr, or the reason the value is malformed.
const char* note_field(std::string_view name, std::string_view value, HeaderFacts& facts) noexcept {
    if (iequals(name, "Upgrade")) {
        facts.upgrade_websocket = facts.upgrade_websocket || list_has_token(value, "websocket");
    } else if (iequals(name, "Connection")) {
        facts.connection_upgrade = facts.connection_upgrade || list_has_token(value, "upgrade");
    } else if (iequals(name, "Host")) {
        ++facts.hosts;
        facts.host = value;
    } else if (iequals(name, "Sec-WebSocket-Version")) {
        ++facts.versions;
        facts.version = value;
    } else if (iequals(name, "Sec-WebSocket-Key")) {
        ++facts.keys;
        facts.key = value;
    } else if (iequals(name, "Origin")) {
        facts.has_origin = true;
        facts.origin = value;
    } else if (iequals(name, "Authorization")) {
        facts.authorization = value;
    } else if (iequals(name, "Transfer-Encoding")) {
        facts.transfer_encoding = true;
    } else if (iequals(name, "Content-Length")) {
        if (value.empty() || !std::all_of(value.begin(), value.end(), is_digit)) {
            return "malformed Content-Length";
        }
        facts.content = facts.content || value.find_first_not_of('0') != std::string_view::npos;
    }
    return nullptr;
}

// Parses one header line (line end removed) into `facts`; returns nullptr, or the reason.
const char* parse_header_line(std::string_view line, HeaderFacts& facts) noexcept {
    std::string_view name;
    std::string_view value;
    if (const char* why = split_header_line(line, name, value)) return why;
    return note_field(name, value, facts);
}

RequestHead reject(HeadVerdict verdict, const char* reason) noexcept {
    RequestHead head;
    head.verdict = verdict;
    head.reason = reason;
    return head;
}
RequestHead bad_request(const char* reason) noexcept {
    return reject(HeadVerdict::kBadRequest, reason);
}

// Judges a syntactically valid GET that asks for a WebSocket upgrade (RFC 6455 §4.2.1).
RequestHead judge_upgrade(const RequestLine& rl, const HeaderFacts& f) noexcept {
    if (rl.minor == '0') return bad_request("WebSocket upgrade needs HTTP/1.1");
    if (f.content || f.transfer_encoding) return bad_request("WebSocket upgrade with a body");
    if (!f.connection_upgrade) return bad_request("Connection does not list upgrade");
    if (f.hosts == 0) return bad_request("missing Host");
    if (!is_vchar_run(f.host)) return bad_request("invalid Host");
    if (f.versions == 0) return bad_request("missing Sec-WebSocket-Version");
    if (f.keys == 0) return bad_request("missing Sec-WebSocket-Key");
    if (f.keys > 1) return bad_request("more than one Sec-WebSocket-Key");
    if (!is_base64_of_16_bytes(f.key)) return bad_request("Sec-WebSocket-Key is not 16 bytes");
    if (f.versions > 1 || f.version != "13") {
        RequestHead head = reject(HeadVerdict::kUpgradeRequired, "Sec-WebSocket-Version is not 13");
        head.target = rl.target;
        return head;
    }
    RequestHead head;
    head.verdict = HeadVerdict::kUpgrade;
    head.target = rl.target;
    head.key = f.key;
    head.origin = f.origin;
    head.authorization = f.authorization;
    head.has_origin = f.has_origin;
    return head;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

// Fills `out` from `line`; returns nullptr, or the reason the line is malformed.
const char* parse_request_line(std::string_view line, RequestLine& out) noexcept {
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return "malformed request line";
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return "malformed request line";
    out.method = line.substr(0, sp1);
    out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!is_token(out.method)) return "malformed request method";
    if (!is_vchar_run(out.target)) return "malformed request target";
    // HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
        version[6] != '.' || !is_digit(version[7])) {
        return "malformed HTTP version";
    }
    if (version[5] != '1') return kUnsupportedHttpVersion;
    out.minor = version[7];
    return nullptr;
}

const char* split_header_line(std::string_view line, std::string_view& name,
                              std::string_view& value) noexcept {
    if (line.empty() || is_ows(line.front())) return "obsolete line folding";
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return "header line without a colon";
    name = line.substr(0, colon);
    if (name.empty()) return "empty header name";
    if (is_ows(name.back())) return "whitespace before a header colon";
    if (!is_token(name)) return "malformed header name";
    value = trim_ows(line.substr(colon + 1));
    if (!is_field_value(value)) return "control character in a header value";
    return nullptr;
}

// The head ends at an LF that follows a line end: "\n\n" or "\n\r\n" (which covers CRLFCRLF and
// CRLF+LF). Each call examines only bytes from `scan_from` on, looking back at most two bytes,
// so the total work over all calls is linear in the head's length.
std::size_t find_head_end(const std::uint8_t* buf, std::size_t n, std::size_t& scan_from) noexcept {
    std::size_t i = scan_from <= n ? scan_from : 0;  // a shrunken buffer is scanned afresh
    while (i < n) {
        const void* lf = std::memchr(buf + i, '\n', n - i);
        if (lf == nullptr) break;
        i = static_cast<std::size_t>(static_cast<const std::uint8_t*>(lf) - buf);
        if ((i >= 1 && buf[i - 1] == '\n') ||
            (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')) {
            scan_from = i + 1;
            return i + 1;
        }
        ++i;
    }
    scan_from = n;
    return 0;
}

RequestHead parse_request_head(std::string_view head) noexcept {
    LineReader lines(head);
    std::string_view line;
    if (!lines.next(line)) return bad_request("incomplete request head");
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    if (line.empty() && !lines.next(line)) return bad_request("incomplete request head");
    RequestLine rl;
    if (const char* why = parse_request_line(line, rl)) return bad_request(why);

    HeaderFacts facts;
    while (true) {
        if (!lines.next(line)) return bad_request("incomplete request head");
        if (line.empty()) break;
        if (const char* why = parse_header_line(line, facts)) return bad_request(why);
    }
    // RFC 9112 §3.2: more than one Host is a 400 whatever the request.
    if (facts.hosts > 1) return bad_request("more than one Host");
    if (rl.method != "GET") {
        RequestHead out = reject(HeadVerdict::kMethodNotAllowed, "only GET is allowed");
        out.target = rl.target;
        return out;
    }
    if (facts.upgrade_websocket) return judge_upgrade(rl, facts);

    RequestHead out;
    out.verdict = HeadVerdict::kPlain;
    out.target = rl.target;
    return out;
}

std::array<char, 28> websocket_accept(std::string_view key) noexcept {
    // SHA-1 here is the RFC 6455 §4.2.2 accept rule, not authentication. The digest is fetched
    // once (OpenSSL 3's explicit fetch) and each thread reuses one context, so a handshake
    // allocates nothing here.
    static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    struct CtxFree {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
    };
    thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> md(EVP_MD_CTX_new());
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_len = 0;
    const bool ok = sha1 != nullptr && md && EVP_DigestInit_ex(md.get(), sha1, nullptr) == 1 &&
                    EVP_DigestUpdate(md.get(), key.data(), key.size()) == 1 &&
                    EVP_DigestUpdate(md.get(), kWebSocketGuid.data(), kWebSocketGuid.size()) == 1 &&
                    EVP_DigestFinal_ex(md.get(), digest.data(), &digest_len) == 1;
    HERALD_ASSERT(ok && digest_len == 20);
    // EVP_EncodeBlock writes 4 * ceil(20 / 3) = 28 characters and a terminating NUL.
    std::array<unsigned char, 29> text{};
    EVP_EncodeBlock(text.data(), digest.data(), 20);
    std::array<char, 28> accept;
    std::memcpy(accept.data(), text.data(), accept.size());
    return accept;
}

void prepare_websocket_accept() noexcept {
    static_cast<void>(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="));  // RFC 6455 1.3's example
}

std::string switching_protocols_response(std::string_view key, std::string_view extra_headers) {
    constexpr std::string_view kHead =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: ";
    const std::array<char, 28> accept = websocket_accept(key);
    std::string out;
    out.reserve(kHead.size() + accept.size() + 2 + extra_headers.size() + 2);
    out.append(kHead).append(accept.data(), accept.size()).append("\r\n");
    out.append(extra_headers).append("\r\n");
    return out;
}

std::string http_response(int status, std::string_view content_type, std::string_view body) {
    std::string out;
    out.reserve(160 + content_type.size() + body.size());
    out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
    out.append(reason_phrase(status)).append("\r\n");
    if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append("Connection: close\r\n");
    if (status == 405) out.append("Allow: GET\r\n");
    if (status == 401) out.append("WWW-Authenticate: Bearer\r\n");
    if (status == 426) out.append("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    if (status == 503) out.append("Retry-After: 1\r\n");
    out.append("\r\n").append(body);
    return out;
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 301:
            return "Moved Permanently";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 411:
            return "Length Required";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 426:
            return "Upgrade Required";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "";
    }
}

}  // namespace herald::net
