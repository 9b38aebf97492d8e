// Pieces of the admin listener's answers that outlive the hand-written HTTP server (request
// framing is libmicrohttpd's now, channel/admin_server.h): the JSON error body and the
// constant-time token comparison.
#pragma once

#include <string>
#include <string_view>

namespace herald::channel {

// {"error":"<code>","detail":"<detail>"} for an API error answer.
std::string api_error(std::string_view code, std::string_view detail);

// Compares secrets in time independent of where they differ.
bool same_secret(std::string_view a, std::string_view b) noexcept;

}  // namespace herald::channel
