// The confirm phase of a Loader: each group's leader probes its group ("p:" messages) while a
// member of the group, in any load process, has not received a probe yet; the count of such
// members lives in the shared memory (SharedView::group_unconfirmed).
#include <charconv>
#include <string>

#include "tools/load/loader.h"

namespace herald::load {
namespace {

constexpr core::Nanos kProbeEvery = 20 * core::kMillisecond;     // a leader's shortest interval
constexpr core::Nanos kProbeTimeout = 500 * core::kMillisecond;  // a probe not back is lost

// "G:P:S" (a probe's text after "p:") into group, process and sequence; false when malformed.
bool parse_probe(std::string_view text, std::uint32_t (&out)[3]) {
    const char* at = text.data();
    const char* end = text.data() + text.size();
    for (int i = 0; i < 3; ++i) {
        const auto [next, ec] = std::from_chars(at, end, out[i]);
        if (ec != std::errc() || (i < 2 && (next == end || *next != ':'))) return false;
        if (i == 2 && next != end) return false;
        at = next + 1;
    }
    return true;
}

}  // namespace

// A member is waited for from its connect until its first probe or its death. herald-load
// never reconnects a member (a dead connection stays dead); were one to connect again, it would
// be counted again here and need a probe of its own, as a new connection is in no group.
void Loader::count_member(Conn& c) {
    if (c.churn || c.pending) return;
    if (c.confirmed) {
        c.confirmed = false;
        --confirmed_;
    }
    c.pending = true;
    ++pending_;
    shared_.group_unconfirmed[c.group].fetch_add(1, std::memory_order_relaxed);
}

void Loader::settle(Conn& c) {
    if (!c.pending) return;
    c.pending = false;
    --pending_;
    shared_.group_unconfirmed[c.group].fetch_sub(1, std::memory_order_relaxed);
}

// Any probe of its group makes c a confirmed member; a leader's own latest probe coming back
// lets it send the next.
void Loader::on_probe(Conn& c, std::string_view text) {
    if (!c.confirmed) {
        c.confirmed = true;
        ++confirmed_;
    }
    settle(c);
    std::uint32_t probe[3];
    if (c.probe_out && parse_probe(text.substr(2), probe) && probe[0] == c.group &&
        probe[1] == proc_ && probe[2] == c.probe_seq) {
        c.probe_out = false;
    }
}

// Each leader probes its group while the group has unconfirmed members: with one probe of its
// own out at a time (the next when it came back, or after kProbeTimeout), at most one per
// kProbeEvery. Text: "p:<group>:<process>:<sequence>".
void Loader::tick_confirm(core::Nanos now) {
    for (Conn* leader : leaders_) {
        if (leader->state != ConnState::kOpen) continue;
        if (shared_.group_unconfirmed[leader->group].load(std::memory_order_relaxed) <= 0) continue;
        const core::Nanos since = now - leader->probe_at;
        if (since < kProbeEvery || (leader->probe_out && since < kProbeTimeout)) continue;
        leader->probe_out = true;
        leader->probe_at = now;
        ++leader->probe_seq;
        send_command(*leader, group_name(leader->group),
                     "p:" + std::to_string(leader->group) + ":" + std::to_string(proc_) + ":" +
                         std::to_string(leader->probe_seq));
        ++probes_sent_;
    }
}

}  // namespace herald::load
