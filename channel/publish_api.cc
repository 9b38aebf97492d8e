#include "channel/publish_api.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "net/http_handshake.h"

namespace herald::channel {
namespace {

ApiHead fail(ApiRequest& request, int status, const char* reason) {
    request.status = status;
    request.reason = reason;
    return ApiHead::kComplete;
}

// One header: records what the API cares about. Returns an error reason or nullptr.
const char* note_header(std::string_view name, std::string_view value, ApiRequest& request,
                        bool& has_length, bool& chunked) {
    if (net::iequals(name, "content-length")) {
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
            return "a malformed Content-Length";
        }
        if (has_length && n != request.content_length) return "conflicting Content-Length";
        has_length = true;
        request.content_length = n;
    } else if (net::iequals(name, "transfer-encoding")) {
        chunked = true;
    } else if (net::iequals(name, "authorization")) {
        if (value.size() > 7 && net::iequals(value.substr(0, 7), "bearer ")) {
            request.bearer = value.substr(7);
            while (!request.bearer.empty() && request.bearer.front() == ' ') {
                request.bearer.remove_prefix(1);
            }
        }
    } else if (net::iequals(name, "connection")) {
        if (net::iequals(value, "close")) request.keep_alive = false;
    }
    return nullptr;
}

}  // namespace

ApiHead parse_api_head(std::string_view buffer, std::size_t max_body, ApiRequest& request) {
    request = ApiRequest{};
    std::size_t scan = 0;
    const std::size_t head_length = net::find_head_end(
        reinterpret_cast<const std::uint8_t*>(buffer.data()), buffer.size(), scan);
    if (head_length == 0) {
        if (buffer.size() > kMaxApiHead) return fail(request, 431, "request head over 8 KiB");
        return ApiHead::kNeedMore;
    }
    if (head_length > kMaxApiHead) return fail(request, 431, "request head over 8 KiB");
    request.head_length = head_length;

    net::LineReader lines(buffer.substr(0, head_length));
    std::string_view line;
    lines.next(line);
    if (line.empty()) lines.next(line);  // RFC 9112 §2.2: one empty line before is ignored
    net::RequestLine rl;
    if (const char* why = net::parse_request_line(line, rl)) {
        return fail(request, why == net::kUnsupportedHttpVersion ? 505 : 400, why);
    }
    if (rl.target.front() != '/') return fail(request, 400, "the target must be a path");
    request.method = rl.method;
    request.target = rl.target;
    request.keep_alive = rl.minor != '0';  // HTTP/1.1 keeps the connection by default

    bool has_length = false;
    bool chunked = false;
    while (lines.next(line) && !line.empty()) {
        std::string_view name;
        std::string_view value;
        const char* why = net::split_header_line(line, name, value);
        if (why == nullptr) why = note_header(name, value, request, has_length, chunked);
        if (why != nullptr) return fail(request, 400, why);
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
