#include "channel/publish_api.h"

#include <algorithm>
#include <charconv>

#include "net/http_handshake.h"

namespace herald::channel {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_token_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

ApiHead fail(ApiRequest& request, int status, const char* reason) {
    request.status = status;
    request.reason = reason;
    return ApiHead::kComplete;
}

// One header line: records what the API cares about. Returns an error reason or nullptr.
const char* read_header(std::string_view line, ApiRequest& request, bool& has_length,
                        bool& chunked) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return "a header line without a name";
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return "a malformed header name";
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
            return "a malformed Content-Length";
        }
        if (has_length && n != request.content_length) return "conflicting Content-Length";
        has_length = true;
        request.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
        chunked = true;
    } else if (iequals(name, "authorization")) {
        if (value.size() > 7 && iequals(value.substr(0, 7), "bearer ")) {
            request.bearer = trim(value.substr(7));
        }
    } else if (iequals(name, "connection")) {
        if (iequals(value, "close")) request.keep_alive = false;
    }
    return nullptr;
}

}  // namespace

ApiHead parse_api_head(std::string_view buffer, std::size_t max_body, ApiRequest& request) {
    request = ApiRequest{};
    std::size_t end = buffer.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (buffer.size() > kMaxApiHead) return fail(request, 431, "request head over 8 KiB");
        return ApiHead::kNeedMore;
    }
    if (end + 4 > kMaxApiHead) return fail(request, 431, "request head over 8 KiB");
    request.head_length = end + 4;
    request.keep_alive = false;  // until the request line says HTTP/1.1
    std::string_view head = buffer.substr(0, end + 2);

    const std::size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return fail(request, 400, "bad request line");
    request.method = line.substr(0, sp1);
    request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (request.method.empty() || request.target.empty() || request.target[0] != '/' ||
        !std::all_of(request.method.begin(), request.method.end(), is_token_char)) {
        return fail(request, 400, "bad request line");
    }
    if (version == "HTTP/1.1") {
        request.keep_alive = true;
    } else if (version != "HTTP/1.0") {
        return fail(request, 505, "only HTTP/1.1 and HTTP/1.0");
    }

    bool has_length = false;
    bool chunked = false;
    while (!head.empty()) {
        const std::size_t next = head.find("\r\n");
        const std::string_view header = head.substr(0, next);
        head.remove_prefix(next + 2);
        if (const char* why = read_header(header, request, has_length, chunked)) {
            return fail(request, 400, why);
        }
    }
    if (chunked) return fail(request, 411, "send a Content-Length, not Transfer-Encoding");
    if (request.method == "POST" && !has_length) return fail(request, 411, "Content-Length needed");
    if (request.content_length > max_body) return fail(request, 413, "body over the limit");
    return ApiHead::kComplete;
}

std::string api_response(int status, std::string_view json, bool keep_alive) {
    std::string out;
    out.reserve(128 + json.size());
    out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
    out.append(net::reason_phrase(status)).append("\r\n");
    out.append("Content-Type: application/json\r\nContent-Length: ");
    out.append(std::to_string(json.size())).append("\r\n");
    out.append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    if (status == 401) out.append("WWW-Authenticate: Bearer\r\n");
    if (status == 405) out.append("Allow: GET, POST\r\n");
    out.append("\r\n").append(json);
    return out;
}

std::string api_error(std::string_view code, std::string_view detail) {
    std::string out = "{\"error\":\"";
    out.append(code).append("\",\"detail\":\"").append(detail).append("\"}");
    return out;
}

bool same_secret(std::string_view a, std::string_view b) noexcept {
    unsigned diff = a.size() == b.size() ? 0 : 1;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
        const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
        diff |= x ^ y;
    }
    return diff == 0;
}

}  // namespace herald::channel
