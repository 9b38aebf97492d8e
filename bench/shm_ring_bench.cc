// BM_ShmRing_*: the shared-memory ring between processes: records/s with 1 and 3 reader
// processes, and the one-way hop latency to a spinning and to a sleeping (eventfd) reader.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "channel/shm_ring.h"

namespace {

using herald::channel::RecordHeader;
using herald::channel::RingReader;
using herald::channel::RingWriter;
using herald::channel::ShmRing;
namespace core = herald::core;

constexpr std::uint16_t kData = 1;
constexpr std::uint16_t kStop = 2;

struct SharedRing {
    std::size_t size;
    std::uint8_t* base;
    ShmRing ring;
    explicit SharedRing(std::uint32_t readers, std::uint64_t capacity = 4u << 20)
        : size(ShmRing::footprint(capacity, readers + 1)),
          base(static_cast<std::uint8_t*>(
              mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))),
          ring(ShmRing::create(base, capacity, readers + 1)) {}
    ~SharedRing() { munmap(base, size); }
};

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<unsigned>(cpu) % static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN)),
            &set);
    sched_setaffinity(0, sizeof set, &set);
}

struct UntilStop {
    bool stop = false;
    std::uint16_t type = 0;
    bool copy(const RecordHeader& h, std::span<const std::uint8_t>) {
        type = h.type;
        return true;
    }
    void commit() { stop = stop || type == kStop; }
    void discard() {}
};

// Records/s the producer publishes while state.range(1) reader processes keep up.
void BM_ShmRing_Throughput(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto readers = static_cast<std::uint32_t>(state.range(1));
    SharedRing shared(readers);
    for (std::uint32_t r = 1; r <= readers; ++r) shared.ring.attach(r);
    std::vector<pid_t> children;
    for (std::uint32_t r = 1; r <= readers; ++r) {
        const pid_t pid = fork();
        if (pid == 0) {
            pin(static_cast<int>(r));
            RingReader reader(shared.ring, r);
            UntilStop visitor;
            while (!visitor.stop) reader.poll(visitor);
            _exit(0);
        }
        children.push_back(pid);
    }
    pin(0);
    RingWriter writer(shared.ring, 64u << 20, 3600 * core::kSecond);
    std::vector<std::uint8_t> payload(size, 0x5A);
    for (auto _ : state) {
        while (!writer.idle()) writer.flush();
        writer.write(kData, 0, payload);
    }
    while (!writer.flush()) {
    }
    writer.write(kStop, 0, {});
    while (!writer.flush()) {
    }
    for (pid_t pid : children) waitpid(pid, nullptr, 0);
    state.counters["records/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_ShmRing_Throughput)
    ->ArgNames({"bytes", "readers"})
    ->Args({64, 1})
    ->Args({64, 3})
    ->Args({1024, 1})
    ->Args({1024, 3})
    ->UseRealTime();

// One-way latency: the producer (CPU 0) stamps CLOCK_MONOTONIC into each record, the reader
// (CPU 1) subtracts on arrival. range(0) = 0: the reader spins; 1: it sleeps on an eventfd
// between records (flag, re-check, block), woken the way herald's workers are.
void BM_ShmRing_HopLatency(benchmark::State& state) {
    const bool sleeping = state.range(0) != 0;
    constexpr int kSamples = 20000;
    SharedRing shared(1, 1u << 20);
    shared.ring.attach(1);
    auto* samples =
        static_cast<std::int64_t*>(mmap(nullptr, kSamples * sizeof(std::int64_t),
                                        PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    const int efd = eventfd(0, 0);
    const pid_t pid = fork();
    if (pid == 0) {
        pin(1);
        RingReader reader(shared.ring, 1);
        struct Stamp {
            std::int64_t sent = 0;
            std::uint16_t type = 0;
            std::int64_t* out;
            int n = 0;
            bool copy(const RecordHeader& h, std::span<const std::uint8_t> p) {
                type = h.type;
                if (p.size() == 8) std::memcpy(&sent, p.data(), 8);
                return true;
            }
            void commit() {
                if (type == kData && n < kSamples) out[n++] = core::now_ns() - sent;
            }
            void discard() {}
        } stamp{0, 0, samples};
        while (stamp.type != kStop) {
            if (reader.poll(stamp) > 0) continue;
            if (!sleeping) continue;
            reader.slot().sleeping.store(1, std::memory_order_seq_cst);
            if (!reader.pending()) {
                std::uint64_t v;
                if (read(efd, &v, sizeof v) < 0) break;
            }
            reader.slot().sleeping.store(0, std::memory_order_relaxed);
        }
        _exit(0);
    }
    pin(0);
    RingWriter writer(shared.ring, 1u << 20);
    const core::Nanos gap = sleeping ? 200 * core::kMicrosecond : 20 * core::kMicrosecond;
    int sent = 0;
    for (auto _ : state) {
        const core::Nanos next = core::now_ns() + gap;
        while (core::now_ns() < next) {
        }
        const std::int64_t now = core::now_ns();
        writer.write(kData, 0, {reinterpret_cast<const std::uint8_t*>(&now), 8});
        writer.wake_sleepers([&](std::uint32_t) { eventfd_write(efd, 1); });
        ++sent;
    }
    writer.write(kStop, 0, {});
    writer.wake_sleepers([&](std::uint32_t) { eventfd_write(efd, 1); });
    eventfd_write(efd, 1);
    waitpid(pid, nullptr, 0);
    std::vector<std::int64_t> v(samples, samples + std::min(sent, kSamples));
    std::sort(v.begin(), v.end());
    if (!v.empty()) {
        state.counters["p50_ns"] = static_cast<double>(v[v.size() / 2]);
        state.counters["p99_ns"] = static_cast<double>(v[v.size() * 99 / 100]);
    }
    munmap(samples, kSamples * sizeof(std::int64_t));
    close(efd);
}
BENCHMARK(BM_ShmRing_HopLatency)
    ->ArgName("sleeping")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(5000)
    ->UseRealTime();

}  // namespace
