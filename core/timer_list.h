// Deadline lists for objects that live in slots (a slab): intrusive, allocation-free, O(1).
#pragma once

#include <array>
#include <cstdint>

#include "core/assert.h"
#include "core/clock.h"

namespace herald::core {

// A slot's place in a TimerLists; it lives inside the slot's object (intrusive). 16 bytes: which
// list holds the slot is not stored, a list's head or tail is found among the lists' ends.
struct TimerLink {
    static constexpr std::uint32_t kUnlinked = UINT32_MAX - 1;  // prev and next when in no list
    std::uint32_t prev = kUnlinked;  // neighbours in its list (slots; kNoSlot at an end)
    std::uint32_t next = kUnlinked;
    Nanos deadline = 0;  // when it expires (while in a list)
    bool linked() const noexcept { return prev != kUnlinked; }
};

// kLists - 1 doubly-linked lists of slots, numbered 1..kLists-1 (0 means "in no list"). Each list
// is FIFO by deadline: every slot appended to list L gets now + L's timeout, so appending keeps
// it sorted and expiring looks only at its head. `Links` maps a slot to its TimerLink:
// `TimerLink& operator()(std::uint32_t slot)`. Nothing here allocates.
template <class Links, std::uint8_t kLists>
class TimerLists {
  public:
    static_assert(kLists >= 2, "list 0 means none: at least one real list");
    static constexpr std::uint32_t kNoSlot = UINT32_MAX;

    explicit TimerLists(Links links) : links_(links) {}

    // Puts `slot` at the tail of `list` (1..kLists-1) with `deadline`, leaving any list it was in.
    // `deadline` must not be earlier than that of the list's current tail.
    void set(std::uint32_t slot, std::uint8_t list, Nanos deadline) noexcept {
        HERALD_DCHECK(list > 0 && list < kLists && slot < TimerLink::kUnlinked);
        clear(slot);
        TimerLink& link = links_(slot);
        Ends& ends = lists_[list];
        HERALD_DCHECK(ends.tail == kNoSlot || links_(ends.tail).deadline <= deadline);
        link.deadline = deadline;
        link.prev = ends.tail;
        link.next = kNoSlot;
        if (ends.tail != kNoSlot) {
            links_(ends.tail).next = slot;
        } else {
            ends.head = slot;
        }
        ends.tail = slot;
    }

    // Takes `slot` out of its list; nothing when it is in none.
    void clear(std::uint32_t slot) noexcept {
        TimerLink& link = links_(slot);
        if (!link.linked()) return;
        if (link.prev != kNoSlot) {
            links_(link.prev).next = link.next;
        } else {
            end_holding(slot, &Ends::head).head = link.next;
        }
        if (link.next != kNoSlot) {
            links_(link.next).prev = link.prev;
        } else {
            end_holding(slot, &Ends::tail).tail = link.prev;
        }
        link.prev = TimerLink::kUnlinked;
        link.next = TimerLink::kUnlinked;
    }

    // The list (1..kLists-1) that holds `slot`, or 0 when it is in none. O(length of its list):
    // for tests and checks, not for the loop.
    std::uint8_t list_of(std::uint32_t slot) const noexcept {
        if (!links_(slot).linked()) return 0;
        std::uint32_t s = slot;
        while (links_(s).prev != kNoSlot) s = links_(s).prev;
        for (std::uint8_t l = 1; l < kLists; ++l) {
            if (lists_[l].head == s) return l;
        }
        return 0;
    }

    // Calls on_expired(slot) for every slot whose deadline is <= now, list by list in deadline
    // order, after taking it out of its list (on_expired may set() it again, with a later
    // deadline).
    template <class Fn>
    void expire(Nanos now, Fn&& on_expired) {
        for (std::uint8_t l = 1; l < kLists; ++l) {
            while (lists_[l].head != kNoSlot) {
                const std::uint32_t slot = lists_[l].head;
                if (links_(slot).deadline > now) break;
                clear(slot);
                on_expired(slot);
            }
        }
    }

    // The first slot to expire in `list`, or kNoSlot.
    std::uint32_t head(std::uint8_t list) const noexcept { return lists_[list].head; }

  private:
    struct Ends {
        std::uint32_t head = kNoSlot;
        std::uint32_t tail = kNoSlot;
    };

    // The list whose head (or tail, per `end`) is `slot`: the one a linked slot without a
    // neighbour on that side sits at an end of.
    Ends& end_holding(std::uint32_t slot, std::uint32_t Ends::*end) noexcept {
        for (std::uint8_t l = 1; l < kLists; ++l) {
            if (lists_[l].*end == slot) return lists_[l];
        }
        HERALD_ASSERT(false && "a linked slot is at no list's end");
        return lists_[0];
    }
    Links links_;
    std::array<Ends, kLists> lists_{};
};

}  // namespace herald::core
