// The hub's backend publish API (HTTP/1.1): POST /publish {"group_id":G,"message":M} and
// GET /stats. This file judges requests and writes responses; the hub does the I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::channel {

// A request head judged. Views point into the buffer the head was parsed from.
struct ApiRequest {
    int status = 0;           // 0: well formed; else the error status to answer with
    const char* reason = "";  // why, for an error status
    std::string_view method;  // "POST", "GET", ...
    std::string_view target;  // "/publish"
    std::string_view bearer;  // the token of "Authorization: Bearer <token>" ("" if none)
    std::size_t content_length = 0;
    bool keep_alive = true;       // HTTP/1.1 default; false after "Connection: close"
    std::size_t head_length = 0;  // bytes of the head, CRLFCRLF included
};

constexpr std::size_t kMaxApiHead = 8 * 1024;

enum class ApiHead : std::uint8_t {
    kNeedMore,  // no complete head yet (and under kMaxApiHead)
    kComplete,  // *request is filled (check request.status)
};

// Finds and judges the request head at the start of `buffer`. A head over kMaxApiHead is 431;
// a malformed request line or header 400; a body without Content-Length (or with
// Transfer-Encoding) 411; a Content-Length over `max_body` 413.
ApiHead parse_api_head(std::string_view buffer, std::size_t max_body, ApiRequest& request);

// A complete response with a JSON body.
std::string api_response(int status, std::string_view json, bool keep_alive);

// {"error":"<code>","detail":"<detail>"} for an API error answer.
std::string api_error(std::string_view code, std::string_view detail);

// Compares secrets in time independent of where they differ.
bool same_secret(std::string_view a, std::string_view b) noexcept;

}  // namespace herald::channel
