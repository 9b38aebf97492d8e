// The fan-out allocates nothing per message or per recipient: a real server runs in this
// process, and every operator new made on its thread while 100 members receive a stream of
// publishes is counted.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <new>
#include <thread>
#include <vector>

#include "net/server.h"
#include "tests/support/ws_client.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::thread::id> g_server_thread{};
std::atomic<std::uint64_t> g_allocations{0};

void* counted(std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed) &&
        std::this_thread::get_id() == g_server_thread.load(std::memory_order_relaxed)) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}

void* counted_aligned(std::size_t n, std::align_val_t a) {
    if (g_counting.load(std::memory_order_relaxed) &&
        std::this_thread::get_id() == g_server_thread.load(std::memory_order_relaxed)) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
    }
    const auto align = static_cast<std::size_t>(a);
    const std::size_t rounded = (n + align - 1) / align * align;
    if (void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded)) return p;
    throw std::bad_alloc();
}

}  // namespace

// noinline: keeps g++ from pairing an inlined free() with a new-expression and warning.
[[gnu::noinline]] void* operator new(std::size_t n) { return counted(n); }
[[gnu::noinline]] void* operator new[](std::size_t n) { return counted(n); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// Every other form is replaced too, so each allocation is counted and freed by its own pair
// (a sanitizer's allocator would otherwise see malloc'd memory reach its operator delete).
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted(n);
    } catch (...) {
        return nullptr;
    }
}
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted(n);
    } catch (...) {
        return nullptr;
    }
}
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void* operator new(std::size_t n, std::align_val_t a) {
    return counted_aligned(n, a);
}
[[gnu::noinline]] void* operator new[](std::size_t n, std::align_val_t a) {
    return counted_aligned(n, a);
}
[[gnu::noinline]] void* operator new(std::size_t n, std::align_val_t a,
                                     const std::nothrow_t&) noexcept {
    try {
        return counted_aligned(n, a);
    } catch (...) {
        return nullptr;
    }
}
[[gnu::noinline]] void* operator new[](std::size_t n, std::align_val_t a,
                                       const std::nothrow_t&) noexcept {
    try {
        return counted_aligned(n, a);
    } catch (...) {
        return nullptr;
    }
}
[[gnu::noinline]] void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::align_val_t,
                                         const std::nothrow_t&) noexcept {
    std::free(p);
}

namespace herald::test {
namespace {

void publish_and_receive(WsClient& publisher, std::vector<std::unique_ptr<WsClient>>& members,
                         int count) {
    const std::string payload(48, 'p');
    for (int i = 0; i < count; ++i) publisher.send_to_group("g", payload);
    for (auto& m : members) {
        for (int i = 0; i < count; ++i) ASSERT_EQ(m->read_text(5000), payload);
    }
}

TEST(FanOutAllocations, NoneOnTheServerThreadPerMessageOrPerRecipient) {
    net::ServerOptions options;
    auto endpoint = net::parse_endpoint("127.0.0.1:0");
    ASSERT_TRUE(endpoint);
    options.listen = *endpoint;
    options.handle_signals = false;
    net::Server server(options);
    // The ring is single-issuer: the loop's thread sets it up as well as runs it.
    std::promise<std::uint16_t> port_promise;
    std::thread loop([&] {
        g_server_thread.store(std::this_thread::get_id());
        auto bound = server.start();
        port_promise.set_value(bound ? bound->port() : 0);
        if (bound) static_cast<void>(server.run());  // as before: the test judges deliveries
    });
    const std::uint16_t port = port_promise.get_future().get();
    if (port == 0) loop.join();
    ASSERT_NE(port, 0);

    std::vector<std::unique_ptr<WsClient>> members;
    for (int i = 0; i < 100; ++i) {
        std::string error;
        members.push_back(WsClient::connect(port, &error));
        ASSERT_TRUE(members.back()) << error;
        members.back()->add_group("g");
    }
    for (auto& m : members) ASSERT_TRUE(m->sync());
    auto publisher = WsClient::connect(port);
    ASSERT_TRUE(publisher);

    // Warm-up, heavier than the measured run: pools, arenas and parser buffers reach the
    // sizes the traffic needs.
    publish_and_receive(*publisher, members, 2000);
    g_allocations = 0;
    g_counting = true;
    publish_and_receive(*publisher, members, 500);  // 50,000 deliveries
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0u) << "allocations on the server thread during fan-out";

    server.stop();
    loop.join();
}

}  // namespace
}  // namespace herald::test
