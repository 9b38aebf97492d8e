// Deadline lists for objects that live in slots (a slab): intrusive, allocation-free, O(1).
#pragma once

#include <array>
#include <cstdint>

#include "core/assert.h"
#include "core/clock.h"

namespace herald::core {

// A slot's place in a TimerLists; it lives inside the slot's object (intrusive).
struct TimerLink {
    std::uint32_t prev = 0;  // neighbours in its list (slots)
    std::uint32_t next = 0;
    std::uint8_t list = 0;  // which list holds it (0: none)
    Nanos deadline = 0;     // when it expires (if list != 0)
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
        HERALD_DCHECK(list > 0 && list < kLists);
        clear(slot);
        TimerLink& link = links_(slot);
        Ends& ends = lists_[list];
        HERALD_DCHECK(ends.tail == kNoSlot || links_(ends.tail).deadline <= deadline);
        link.deadline = deadline;
        link.list = list;
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
        if (link.list == 0) return;
        Ends& ends = lists_[link.list];
        if (link.prev != kNoSlot) {
            links_(link.prev).next = link.next;
        } else {
            ends.head = link.next;
        }
        if (link.next != kNoSlot) {
            links_(link.next).prev = link.prev;
        } else {
            ends.tail = link.prev;
        }
        link.list = 0;
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
    Links links_;
    std::array<Ends, kLists> lists_{};
};

}  // namespace herald::core
