// The kernel-path options of the worker loop (docs/KERNEL_BYPASS.md): SQPOLL and NAPI busy
// polling, which the ring set-up applies (net/uring.cc) and this file reports, and zero-copy
// sends, which it decides and whose completions it routes.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "net/log.h"
#include "net/server.h"

namespace herald::net {
namespace {

// Fixed-buffer slots for the pool's large blocks; beyond, blocks go out with plain SEND_ZC.
constexpr unsigned kFixedBufferSlots = 4096;

// HERALD_ZEROCOPY_KEEP=1: keep zero-copy on connections whose sends the kernel copies (the
// benchmarks measure what a copying path costs with it).
bool keep_copying() {
    const char* v = std::getenv("HERALD_ZEROCOPY_KEEP");
    return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

}  // namespace

void Server::report_ring_options() {
    if (options_.sqpoll) {
        if (uring_.sqpoll()) {
            char cpu[16] = "any";
            if (options_.sqpoll_cpu >= 0) std::snprintf(cpu, sizeof cpu, "%d", options_.sqpoll_cpu);
            log_event(LogLevel::kInfo, "sqpoll", "state=on cpu=%s ring=\"%s\"", cpu,
                      uring_.setup_mode());
        } else {
            log_event(LogLevel::kWarn, "sqpoll", "state=off reason=\"%s\" ring=\"%s\"",
                      uring_.sqpoll_failure(), uring_.setup_mode());
        }
    }
    if (options_.busy_poll_us > 0) {
        if (uring_.napi_result() == 0) {
            log_event(LogLevel::kInfo, "busy_poll", "state=on busy_poll_us=%u prefer_busy_poll=1",
                      options_.busy_poll_us);
        } else {
            log_event(LogLevel::kWarn, "busy_poll",
                      "state=off reason=\"IORING_REGISTER_NAPI: %s (needs Linux 6.9)\"",
                      std::strerror(-uring_.napi_result()));
        }
    }
}

void Server::start_zero_copy() {
    const std::uint32_t asked = options_.zerocopy_threshold;
    const bool automatic = asked == ServerOptions::kZeroCopyAuto;
    const char* mode = automatic ? "auto" : "threshold";
    if (asked == ServerOptions::kZeroCopyOff) {
        log_event(LogLevel::kInfo, "zerocopy", "state=off reason=\"--zerocopy-threshold off\"");
        return;
    }
    if (tls_) {
        log_event(LogLevel::kInfo, "zerocopy",
                  "state=off mode=%s reason=\"wss://: records are sealed into per-connection "
                  "blocks, nothing is shared to send without a copy\"",
                  mode);
        return;
    }
    if (automatic) {
        paths_.load();
        if (paths_.copies(options_.listen.addr)) {
            log_event(LogLevel::kInfo, "zerocopy",
                      "state=off mode=auto reason=\"--listen is on loopback or veth (%s): the "
                      "kernel copies zero-copy sends to local sockets\"",
                      paths_.names().c_str());
            return;
        }
    }
    if (!uring_.probe_send_zc()) {
        log_event(LogLevel::kWarn, "zerocopy",
                  "state=off mode=%s reason=\"io_uring has no SEND_ZC with usage reports "
                  "(Linux 6.2+)\" fallback=send",
                  mode);
        return;
    }
    const std::uint32_t threshold = automatic ? ServerOptions::kZeroCopyAutoThreshold : asked;
    int error = 0;
    const bool fixed = fixed_.init(kFixedBufferSlots, error);
    if (fixed) pool_.set_hooks(&fixed_, threshold);
    zc_check_paths_ = automatic;
    outbox_.set_zero_copy(threshold, fixed ? &fixed_ : nullptr, stats_, keep_copying());
    log_event(LogLevel::kInfo, "zerocopy",
              "state=on mode=%s threshold=%u fixed_buffers=\"%s\" skipped_paths=\"%s\"", mode,
              threshold, fixed ? "on" : std::strerror(error),
              automatic ? (paths_.names().empty() ? "loopback" : paths_.names().c_str())
                        : "none (copies are detected per connection)");
}

// The first CQE of a zero-copy send is any send's completion; its notification may release the
// slot (an aborting connection waits for it).
void Server::on_send_zc(const io_uring_cqe& cqe) {
    const Outbox::ZcCompletion done =
        outbox_.on_zc_cqe(index_of(cqe.user_data), cqe.res, cqe.flags);
    if (done.conn == nullptr) return;
    const ConnRef ref{*done.conn, done.slot};
    if (done.notification) return maybe_release(ref);
    on_send(ref, cqe.res);
}

}  // namespace herald::net
