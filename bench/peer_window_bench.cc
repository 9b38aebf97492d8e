// The cost a hub pays per PUBLISH frame it queues for a peer: the AckWindow alone, and with the
// window's copy in shared memory (channel/window_mirror.h: the frame's bytes, then a committed
// mark), which is what lets a restarted hub replay it. Steady state: each frame is acknowledged
// right after it is queued, as on a healthy link.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "channel/ack_window.h"
#include "channel/window_mirror.h"

namespace {

using herald::channel::WindowMark;
using herald::channel::WindowMirror;
using herald::channel::WindowSlotHeader;
using herald::channel::hub::AckWindow;

constexpr std::size_t kLimit = 8u << 20;

void queue_and_ack(benchmark::State& state, bool mirrored) {
    const std::vector<std::uint8_t> message(static_cast<std::size_t>(state.range(0)), 'x');
    AckWindow window(kLimit);
    const std::size_t capacity = kLimit + (1u << 20);
    auto* memory = static_cast<std::uint8_t*>(
        std::aligned_alloc(64, herald::channel::window_slot_size(capacity)));
    auto* header = new (memory) WindowSlotHeader{};
    WindowMirror mirror(header, memory + sizeof(WindowSlotHeader), capacity);
    WindowMark mark;
    for (auto _ : state) {
        window.push_publish(1, "room", message, nullptr);
        if (mirrored) {
            const std::string_view frames = window.frames();
            const std::uint64_t fresh = window.appended() - mark.tail;
            mirror.write(mark.tail, frames.substr(frames.size() - fresh));
            mark.tail = window.appended();
            mark.next_seq = window.next_seq();
            mirror.commit(mark);
        }
        window.ack(window.next_seq() - 1);
        if (mirrored) {
            mark.head = window.dropped();
            mark.acked = window.acked();
            mirror.commit(mark);
        }
        benchmark::DoNotOptimize(window.bytes());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
    std::free(memory);
}

void BM_PeerWindow_Queue(benchmark::State& state) { queue_and_ack(state, false); }
void BM_PeerWindow_QueueMirrored(benchmark::State& state) { queue_and_ack(state, true); }

}  // namespace

BENCHMARK(BM_PeerWindow_Queue)->Arg(64)->Arg(16384);
BENCHMARK(BM_PeerWindow_QueueMirrored)->Arg(64)->Arg(16384);
