// OriginAllowList: which browser origins may open a WebSocket (--allowed-origins), the server's
// side of RFC 6455 §4.2.2 step 4 and §10.2: a request whose Origin is not allowed gets 403.
//
// Matching: the Origin header value (RFC 6454 §7 serialisation, "https://a.example:8443") is
// compared with each listed origin in full, ASCII case-insensitively (scheme and host are
// case-insensitive); no wildcard subdomains, no trailing-slash folding. "*" in the list allows
// every origin; no list at all (flag absent) allows every request.
// A request without Origin is allowed: browsers always send it (RFC 6455 §4.1), so a missing
// Origin means a non-browser client, which could send any Origin it liked; refusing it would
// only break tools. The literal origin "null" (sandboxed pages, file:) is allowed only if listed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::net {

class OriginAllowList {
  public:
    // Allows everything (the flag is absent).
    OriginAllowList() = default;

    // Parses a --allowed-origins value: comma-separated origins, spaces around commas ignored.
    // Errors: an empty list or entry, or an entry that is neither "*", "null" nor
    // "scheme://host[:port]" without a path ("--allowed-origins: 'https://a/x' has a path").
    static core::Result<OriginAllowList> parse(std::string_view flag_value);

    // Whether an upgrade carrying `origin` (the header's value; `has_origin` false when the
    // header is absent) may proceed; false means answer 403. Allocates nothing.
    bool allows(std::string_view origin, bool has_origin = true) const noexcept;

    bool allows_any() const noexcept { return any_; }

  private:
    bool any_ = true;
    std::vector<std::string> origins_;  // as given; compared case-insensitively
};

}  // namespace herald::net
