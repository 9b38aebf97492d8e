// Acknowledged delivery between two hubs: the sender's window of frames a peer has not
// acknowledged yet (with the groups whose frames it had to drop), and the receiver's filter of
// seqs already delivered. Seqs are 64-bit and compared in serial-number arithmetic (RFC 1982
// style: a is after b when (int64)(a - b) > 0), so a run that crosses 2^64 - 1 keeps its order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

namespace herald::channel::hub {

// Whether seq `a` comes after seq `b` (serial-number arithmetic).
constexpr bool seq_after(std::uint64_t a, std::uint64_t b) noexcept {
    return static_cast<std::int64_t>(a - b) > 0;
}

// The seq after `s`: seq 0 is never used (it means "none" in OriginSeq), so 2^64 - 1 is
// followed by 1.
constexpr std::uint64_t seq_next(std::uint64_t s) noexcept { return s + 1 == 0 ? 1 : s + 1; }

constexpr std::size_t kMaxLostGroups = 1024;  // groups remembered by name; past it "all groups"

// The sender's side of one peer: every PUBLISH (and LOST) frame queued for it, in seq order,
// until the peer acknowledges it; replayed whole after a relink. Bounded by `limit` bytes
// (--peer-buffer): a PUBLISH that does not fit is dropped, its group remembered for a LOST.
class AckWindow {
  public:
    // `limit`: bytes of PUBLISH frames held at most; `first_seq`: the first seq to hand out;
    // `acked`: the last seq the peer acknowledged (a restarted hub's may be lower than
    // first_seq - 1: those frames died with its previous process).
    explicit AckWindow(std::size_t limit = 0, std::uint64_t first_seq = 1) noexcept
        : AckWindow(limit, first_seq, first_seq - 1) {}
    AckWindow(std::size_t limit, std::uint64_t first_seq, std::uint64_t acked) noexcept
        : limit_(limit), next_seq_(first_seq), acked_(acked) {}

    // Appends one PUBLISH frame (origin `origin`) to the window, and to `out` when not null
    // (the link's unsent bytes). Returns false when it did not fit: nothing is appended, no seq
    // is spent, and the group is remembered as lost.
    bool push_publish(std::uint32_t origin, std::string_view group,
                      std::span<const std::uint8_t> message, std::string* out);
    // Remembers every group as lost (frames this hub could not even read were dropped, so it
    // cannot tell whose): the next push_lost() sends one LOST for every group.
    void lose_everything();
    // Appends one LOST kLostCheck frame (a seq mark, beyond the limit; channel/cluster_frame.h)
    // to the window and to `out` when not null: a receiver that lacks any earlier seq sees a gap.
    void push_check(std::string* out);
    // Appends LOST frames for every group remembered as lost (to the window, beyond the limit,
    // and to `out` when not null), then forgets them. Returns the frames appended.
    std::size_t push_lost(std::string* out);
    // The peer has every frame up to `seq`: drops them. Returns the frames dropped. A seq not
    // after the last ack, or after the last seq handed out, is ignored (returns 0).
    std::size_t ack(std::uint64_t seq);

    // Takes back what a WindowMirror kept: `frames` (whole frames, seq order, the last of which
    // has a seq before `next_seq`), the seqs, and the bytes appended ever (`appended`, of which
    // all but `frames` were acknowledged). Lost bookkeeping starts empty.
    void restore(std::string frames, std::uint64_t next_seq, std::uint64_t acked,
                 std::uint64_t appended);

    void set_limit(std::size_t limit) noexcept { limit_ = limit; }
    // Bytes ever appended, and ever dropped by ACKs (positions in a WindowMirror).
    std::uint64_t appended() const noexcept { return appended_; }
    std::uint64_t dropped() const noexcept { return appended_ - bytes(); }
    std::size_t limit() const noexcept { return limit_; }
    std::string_view frames() const noexcept { return std::string_view(buf_).substr(head_); }
    std::size_t bytes() const noexcept { return buf_.size() - head_; }
    std::size_t held() const noexcept { return held_; }  // frames not acknowledged
    std::uint64_t next_seq() const noexcept { return next_seq_; }
    std::uint64_t acked() const noexcept { return acked_; }
    // Lost bookkeeping: groups by name (at most kMaxLostGroups) or every group.
    const std::map<std::string, std::uint64_t, std::less<>>& lost_groups() const noexcept {
        return lost_;
    }
    bool lost_all() const noexcept { return lost_all_; }
    std::uint64_t lost_all_count() const noexcept { return lost_all_count_; }

  private:
    void remember_lost(std::string_view group);
    std::uint64_t take_seq() noexcept {
        const std::uint64_t s = next_seq_;
        next_seq_ = seq_next(s);
        return s;
    }

    std::size_t limit_;
    std::uint64_t next_seq_;
    std::uint64_t acked_;
    std::string buf_;                                         // whole frames from head_, seq order
    std::size_t head_ = 0;                                    // first byte not acknowledged
    std::size_t held_ = 0;                                    // frames from head_
    std::uint64_t appended_ = 0;                              // bytes ever appended
    std::map<std::string, std::uint64_t, std::less<>> lost_;  // group -> frames dropped
    bool lost_all_ = false;
    std::uint64_t lost_all_count_ = 0;  // frames dropped once past kMaxLostGroups
};

// The receiver's side of one origin: the last seq delivered (kept in shared memory by the hub so
// that it survives a restart). accept() says what to do with an arriving seq.
enum class SeqVerdict : std::uint8_t { kDeliver, kDuplicate, kGap };

// Classifies `seq` against `last` (the last seq delivered; 0 when none was, so that 1 comes
// next, or the base a link's first PING gave): kDuplicate when it is not after `last`; kGap when
// frames between were lost (deliver it anyway); kDeliver when it follows `last`. The caller
// stores `seq` as the new last unless it is a duplicate.
constexpr SeqVerdict classify_seq(std::uint64_t last, std::uint64_t seq) noexcept {
    if (!seq_after(seq, last)) return SeqVerdict::kDuplicate;
    return seq == seq_next(last) ? SeqVerdict::kDeliver : SeqVerdict::kGap;
}

}  // namespace herald::channel::hub
