// Hash sets and maps keyed by std::string that are looked up with a std::string_view (no
// temporary string per lookup).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace herald::core {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
template <class T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

}  // namespace herald::core
