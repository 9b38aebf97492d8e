#include "channel/nats_codec.h"

#include <algorithm>
#include <array>

namespace herald::channel::nats {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_values() {
    std::array<std::int8_t, 256> v{};
    for (auto& x : v) x = -1;
    for (int i = 0; i < 64; ++i)
        v[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
    return v;
}
constexpr std::array<std::int8_t, 256> kValues = make_values();

}  // namespace

void append_group_token(std::string& out, std::string_view group) {
    if (group.empty()) {
        out += '=';
        return;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(group.data());
    const auto at = [&p](int i) { return static_cast<std::uint32_t>(p[i]); };
    std::size_t n = group.size();
    for (; n >= 3; n -= 3, p += 3) {
        const std::uint32_t v = (at(0) << 16) | (at(1) << 8) | at(2);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (n == 1) {
        out += kAlphabet[p[0] >> 2];
        out += kAlphabet[(p[0] & 3) << 4];
    } else if (n == 2) {
        const std::uint32_t v = (at(0) << 8) | at(1);
        out += kAlphabet[(v >> 10) & 63];
        out += kAlphabet[(v >> 4) & 63];
        out += kAlphabet[(v & 15) << 2];
    }
}

bool decode_group_token(std::string_view token, std::string& out) {
    out.clear();
    if (token == "=") return true;
    if (token.empty() || token.size() % 4 == 1) return false;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : token) {
        const int v = kValues[static_cast<unsigned char>(c)];
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return (acc & ((1u << bits) - 1)) == 0;  // the unused low bits are zero (canonical)
}

SeqCounter::Issued SeqCounter::next(std::string_view group, core::Nanos now) {
    auto it = groups_.find(group);
    if (it == groups_.end()) {
        const std::uint64_t seq = ++highest_;  // a fresh count starts above every seq issued
        groups_.emplace(std::string(group), std::pair<std::uint64_t, core::Nanos>{seq, now});
        return {seq, 0};
    }
    const std::uint64_t prev = it->second.first;
    it->second = {prev + 1, now};
    highest_ = std::max(highest_, prev + 1);
    return {prev + 1, prev};
}

std::size_t SeqCounter::forget_idle(core::Nanos now, core::Nanos idle) {
    return std::erase_if(groups_, [&](const auto& kv) { return now - kv.second.second > idle; });
}

Verdict SeqTracker::observe(std::string_view group, std::uint32_t origin, std::uint64_t incarnation,
                            std::uint64_t seq, std::uint64_t prev, bool sync, core::Nanos now) {
    auto it = groups_.find(group);
    if (it == groups_.end()) it = groups_.emplace(std::string(group), std::vector<Entry>{}).first;
    std::vector<Entry>& entries = it->second;
    auto e = std::find_if(entries.begin(), entries.end(),
                          [origin](const Entry& x) { return x.origin == origin; });
    if (e == entries.end() || e->incarnation != incarnation) {
        // First seen since the subscription (or a restarted origin): the baseline.
        if (e == entries.end()) {
            if (entries.size() >= kMaxOriginsPerGroup) return Verdict::kDeliver;
            entries.push_back({origin, incarnation, seq, now});
        } else {
            *e = {origin, incarnation, seq, now};
        }
        return Verdict::kDeliver;
    }
    e->seen = now;
    if (sync) {
        if (seq <= e->last) return Verdict::kDeliver;  // nothing missing (the caller delivers none)
        e->last = seq;
        return Verdict::kGap;
    }
    if (seq <= e->last) return Verdict::kStale;
    const bool gap = prev != 0 && prev != e->last;
    e->last = seq;
    return gap ? Verdict::kGap : Verdict::kDeliver;
}

void SeqTracker::forget(std::string_view group) {
    if (auto it = groups_.find(group); it != groups_.end()) groups_.erase(it);
}

void SeqTracker::forget_idle(core::Nanos now, core::Nanos idle) {
    for (auto it = groups_.begin(); it != groups_.end();) {
        std::erase_if(it->second, [&](const Entry& e) { return now - e.seen > idle; });
        it = it->second.empty() ? groups_.erase(it) : std::next(it);
    }
}

}  // namespace herald::channel::nats
