// What the NATS engine (channel/nats_engine.h) puts on the wire, as pure bookkeeping that unit
// tests drive: a group's subject token, and the order headers a publish carries with the
// checks a receiver makes on them (docs/CLUSTER.md, "The NATS engine").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/string_set.h"

namespace herald::channel::nats {

// ---- subjects ----------------------------------------------------------------------------

// `group`'s bytes in base64url without padding (RFC 4648 §5): letters, digits, '-' and '_',
// never '.', '*', '>' or a space, so any group id is exactly one subject token. An empty group
// id is the token "=" (never produced by base64url), so every token is non-empty. Appended to
// `out`.
void append_group_token(std::string& out, std::string_view group);
// The group id of `token` (append_group_token's inverse) into `out`; false when `token` is
// not one it produces (wrong alphabet, impossible length, non-zero trailing bits).
bool decode_group_token(std::string_view token, std::string& out);

// ---- order headers -----------------------------------------------------------------------

constexpr const char* kOriginHeader = "Herald-Origin";            // node id, decimal
constexpr const char* kIncarnationHeader = "Herald-Incarnation";  // the origin hub's start
constexpr const char* kSeqHeader = "Herald-Seq";    // this message's seq for its group
constexpr const char* kPrevHeader = "Herald-Prev";  // the group's previous seq (0: a fresh count)
constexpr const char* kSyncHeader = "Herald-Sync";  // "1": no message; Seq is the last one sent

// The publisher's seqs, per group: contiguous while a group is remembered (Prev = Seq - 1);
// a group forgotten after `idle` without publishes counts again from above every seq this hub
// ever issued, with Prev 0, so a receiver never mistakes a new count for old messages.
class SeqCounter {
  public:
    struct Issued {
        std::uint64_t seq;
        std::uint64_t prev;  // 0: the first of a count
    };
    // The seqs of the next message to `group` at `now`.
    Issued next(std::string_view group, core::Nanos now);
    // Forgets groups without a publish since now - idle; returns how many.
    std::size_t forget_idle(core::Nanos now, core::Nanos idle);
    // Every remembered group and its last seq (for the sync after a reconnect).
    const core::StringMap<std::pair<std::uint64_t, core::Nanos>>& groups() const noexcept {
        return groups_;
    }

  private:
    core::StringMap<std::pair<std::uint64_t, core::Nanos>> groups_;  // last seq, last publish
    std::uint64_t highest_ = 0;                                      // every seq issued <= it
};

// What a receiver makes of one message (or sync) from an origin for a group.
enum class Verdict : std::uint8_t {
    kDeliver,  // in order (or the first seen): hand it to the workers
    kGap,      // messages before it never arrived: report the group lost, then deliver it
    kStale,    // a seq already seen: drop it
};

// The receiver's last seq per (group, origin) for the groups this host subscribes to.
class SeqTracker {
  public:
    static constexpr std::size_t kMaxOriginsPerGroup = 256;  // beyond: new origins not tracked

    // A message (sync = false) or a sync (sync = true: seq is the origin's last seq, nothing
    // is delivered) from (origin, incarnation) for `group`.
    Verdict observe(std::string_view group, std::uint32_t origin, std::uint64_t incarnation,
                    std::uint64_t seq, std::uint64_t prev, bool sync, core::Nanos now);
    // The host unsubscribed from `group`: its seqs start afresh on the next subscription.
    void forget(std::string_view group);
    // Forgets (group, origin) entries silent since now - idle.
    void forget_idle(core::Nanos now, core::Nanos idle);
    std::size_t groups() const noexcept { return groups_.size(); }

  private:
    struct Entry {
        std::uint32_t origin;
        std::uint64_t incarnation;
        std::uint64_t last;
        core::Nanos seen;
    };
    core::StringMap<std::vector<Entry>> groups_;
};

}  // namespace herald::channel::nats
