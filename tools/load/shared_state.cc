#include "tools/load/shared_state.h"

#include <new>

namespace herald::load {

SharedView SharedView::create(void* memory, std::uint32_t procs, std::uint32_t publishers,
                              std::uint32_t groups) {
    auto* base = static_cast<std::uint8_t*>(memory);
    SharedView v;
    v.header = new (base) SharedHeader();
    auto* slots = base + (sizeof(SharedHeader) + 63) / 64 * 64;
    v.slots = reinterpret_cast<ProcessSlot*>(slots);
    for (std::uint32_t i = 0; i < procs; ++i) new (&v.slots[i]) ProcessSlot();
    auto* counters =
        reinterpret_cast<std::atomic<std::uint64_t>*>(slots + procs * sizeof(ProcessSlot));
    for (std::uint32_t i = 0; i < 3 * publishers; ++i)
        new (&counters[i]) std::atomic<std::uint64_t>(0);
    v.publisher_sent = counters;
    v.publisher_unique = counters + publishers;
    v.publisher_receivers = counters + 2 * publishers;
    auto* unconfirmed = reinterpret_cast<std::atomic<std::int32_t>*>(counters + 3 * publishers);
    for (std::uint32_t g = 0; g < groups; ++g) new (&unconfirmed[g]) std::atomic<std::int32_t>(0);
    v.group_unconfirmed = unconfirmed;
    return v;
}

}  // namespace herald::load
