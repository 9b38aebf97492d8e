#include "channel/publish_api.h"

#include <algorithm>

namespace herald::channel {

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
