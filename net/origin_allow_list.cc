#include "net/origin_allow_list.h"

namespace herald::net {
namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// "" when `entry` is a usable list entry, else the problem.
std::string_view entry_problem(std::string_view entry) noexcept {
    if (entry.empty()) return "empty entry";
    if (entry == "*" || entry == "null") return {};
    const std::size_t scheme_end = entry.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return "has no scheme://";
    const std::string_view host = entry.substr(scheme_end + 3);
    if (host.empty()) return "has no host";
    if (host.find('/') != std::string_view::npos) return "has a path";
    return {};
}

}  // namespace

core::Result<OriginAllowList> OriginAllowList::parse(std::string_view flag_value) {
    OriginAllowList list;
    list.any_ = false;
    std::string_view rest = flag_value;
    for (;;) {
        const std::size_t comma = rest.find(',');
        const std::string_view entry = trim(rest.substr(0, comma));
        if (const std::string_view p = entry_problem(entry); !p.empty()) {
            return core::Error{"--allowed-origins: '" + std::string(entry) + "' " + std::string(p)};
        }
        if (entry == "*") list.any_ = true;
        list.origins_.emplace_back(entry);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return list;
}

bool OriginAllowList::allows(std::string_view origin, bool has_origin) const noexcept {
    if (any_ || !has_origin) return true;
    for (const std::string& allowed : origins_) {
        if (iequal(allowed, origin)) return true;
    }
    return false;
}

}  // namespace herald::net
