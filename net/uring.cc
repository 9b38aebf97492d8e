#include "net/uring.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/assert.h"

namespace herald::net {
namespace {

std::string setup_error(int err) {
    switch (err) {
        case ENOSYS:
            return "io_uring is not available in this kernel: run herald on Linux 6.1 or newer";
        case EPERM:
            return "io_uring is blocked (kernel.io_uring_disabled sysctl, a seccomp profile or a "
                   "container policy): allow it, e.g. `sysctl -w kernel.io_uring_disabled=0` or "
                   "run the container with a seccomp profile that permits io_uring_setup";
        case ENOMEM:
            return "io_uring could not allocate its rings: raise `ulimit -l` (RLIMIT_MEMLOCK) or "
                   "lower --ring-entries";
        default:
            return std::string("io_uring set-up failed: ") + std::strerror(err);
    }
}

}  // namespace

Uring::~Uring() {
    if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
    if (buffers_ != nullptr) munmap(buffers_, buffers_bytes_);
    if (initialized_) io_uring_queue_exit(&ring_);
}

int Uring::setup(const UringConfig& config) {
    struct Attempt {
        unsigned flags;
        const char* name;
    };
    // SQPOLL excludes COOP_TASKRUN and DEFER_TASKRUN (the SQ thread runs the task work).
    constexpr Attempt kSqpoll[] = {
        {IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_SUBMIT_ALL,
         "sqpoll, single-issuer"},
        {IORING_SETUP_SQPOLL, "sqpoll"},
    };
    // SUBMIT_ALL: one bad SQE does not stop the rest of a batch.
    constexpr Attempt kAttempts[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
         "single-issuer, deferred task-run"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, "cooperative task-run"},
        {0, "plain"},
    };
    auto attempt = [&](const Attempt& a) {
        io_uring_params params{};
        params.flags = a.flags | IORING_SETUP_CQSIZE;
        params.cq_entries = config.entries * 4;
        if ((a.flags & IORING_SETUP_SQPOLL) != 0 && config.sqpoll_cpu >= 0) {
            params.flags |= IORING_SETUP_SQ_AFF;
            params.sq_thread_cpu = static_cast<unsigned>(config.sqpoll_cpu);
        }
        const int ret = io_uring_queue_init_params(config.entries, &ring_, &params);
        if (ret == 0) {
            setup_mode_ = a.name;
            features_ = params.features;
        }
        return ret;
    };
    int ret = -EINVAL;
    if (config.sqpoll) {
        for (const Attempt& a : kSqpoll) {
            ret = attempt(a);
            if (ret == 0) {
                sqpoll_ = true;
                return 0;
            }
            if (ret != -EINVAL) break;
        }
        sqpoll_failure_ = std::strerror(-ret);
    }
    for (const Attempt& a : kAttempts) {
        ret = attempt(a);
        if (ret != -EINVAL) break;  // only "flag unknown" is worth another attempt
    }
    return ret;
}

core::Status Uring::init(const UringConfig& config) {
    const int ret = setup(config);
    if (ret != 0) return core::Error{setup_error(-ret)};
    if ((features_ & IORING_FEAT_SUBMIT_STABLE) == 0) {
        io_uring_queue_exit(&ring_);
        return core::Error{
            "this kernel's io_uring needs request data stable until completion "
            "(Linux < 5.5): run herald on Linux 6.1 or newer"};
    }
    initialized_ = true;

    if (config.registered_files > 0) {
        files_registered_ = io_uring_register_files_sparse(&ring_, config.registered_files) == 0;
    }
    if (config.busy_poll_us > 0) register_napi(config.busy_poll_us);
    if (config.recv_buffers > 0) {
        return setup_buffer_ring(config.recv_buffers, config.recv_buffer_size);
    }
    return {};
}

// IORING_REGISTER_NAPI (Linux 6.9): liburing 2.3 has no helper, so the raw register call with
// the kernel's struct io_uring_napi (include/uapi/linux/io_uring.h), defined here because older
// uapi headers lack it. Zeroed opcode/op_param mean "register, dynamic NAPI id tracking" on
// kernels that know them (6.13+) and are reserved zeros before.
void Uring::register_napi(unsigned busy_poll_us) noexcept {
    struct NapiRegistration {
        std::uint32_t busy_poll_to;  // microseconds
        std::uint8_t prefer_busy_poll;
        std::uint8_t opcode;
        std::uint8_t pad[2];
        std::uint32_t op_param;
        std::uint32_t resv;
    };
    static_assert(sizeof(NapiRegistration) == 16);
    constexpr unsigned kRegisterNapi = 27;  // IORING_REGISTER_NAPI
    NapiRegistration reg{};
    reg.busy_poll_to = busy_poll_us;
    reg.prefer_busy_poll = 1;
    const long ret = syscall(__NR_io_uring_register, ring_.ring_fd, kRegisterNapi, &reg, 1);
    napi_result_ = ret < 0 ? -errno : 0;
}

bool Uring::probe_send_zc() noexcept {
    const char* hook = std::getenv("HERALD_TEST_NO_SEND_ZC");
    if (hook != nullptr && hook[0] != '\0' && std::strcmp(hook, "0") != 0) return false;
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    const bool opcode = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
    if (probe != nullptr) io_uring_free_probe(probe);
    // IORING_SEND_ZC_REPORT_USAGE came in 6.2; 6.0 and 6.1 would fail such a send with EINVAL.
    utsname u{};
    unsigned major = 0;
    unsigned minor = 0;
    if (uname(&u) != 0 || std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return false;
    return opcode && (major > 6 || (major == 6 && minor >= 2));
}

// A kernel without provided-buffer rings is no error: has_buffer_ring() stays false.
core::Status Uring::setup_buffer_ring(unsigned count, unsigned size) {
    HERALD_ASSERT(count > 0 && (count & (count - 1)) == 0 && count <= 32768);
    buf_ring_bytes_ = count * sizeof(io_uring_buf);
    void* ring_mem =
        mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) {
        return core::Error{"cannot map the receive buffer ring: out of memory"};
    }
    // The buffers, then 64 readable bytes after the last one (parsers may read past the end).
    buffers_bytes_ = std::size_t{count} * size + 64;
    void* buf_mem =
        mmap(nullptr, buffers_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (buf_mem == MAP_FAILED) {
        munmap(ring_mem, buf_ring_bytes_);
        return core::Error{"cannot map the receive buffers: out of memory (lower --recv-buffers)"};
    }
    auto* br = static_cast<io_uring_buf_ring*>(ring_mem);
    io_uring_buf_ring_init(br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_mem);
    reg.ring_entries = count;
    reg.bgid = kBufferGroup;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
        // Kernel without provided-buffer rings (< 5.19): the caller falls back to poll + recv.
        munmap(ring_mem, buf_ring_bytes_);
        munmap(buf_mem, buffers_bytes_);
        buf_ring_bytes_ = buffers_bytes_ = 0;
        return {};
    }
    buf_ring_ = br;
    buffers_ = static_cast<std::uint8_t*>(buf_mem);
    buf_count_ = count;
    buf_size_ = size;
    for (unsigned id = 0; id < count; ++id) recycle_buffer(static_cast<std::uint16_t>(id));
    publish_buffers();
    return {};
}

void Uring::recycle_buffer(std::uint16_t id) noexcept {
    io_uring_buf_ring_add(buf_ring_, buffer(id), buf_size_, id, io_uring_buf_ring_mask(buf_count_),
                          static_cast<int>(pending_recycles_));
    ++pending_recycles_;
}

void Uring::publish_buffers() noexcept {
    if (pending_recycles_ == 0) return;
    io_uring_buf_ring_advance(buf_ring_, static_cast<int>(pending_recycles_));
    pending_recycles_ = 0;
}

void Uring::release_buffer_memory() noexcept {
    // With SQPOLL the kernel thread may fill a buffer at any moment: keep them.
    if (buffers_ != nullptr && !sqpoll_)
        madvise(buffers_, std::size_t{buf_count_} * buf_size_, MADV_DONTNEED);
}

io_uring_sqe* Uring::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (s == nullptr) {
        io_uring_submit(&ring_);
        if (sqpoll_) io_uring_sqring_wait(&ring_);  // the SQ thread empties the queue
        s = io_uring_get_sqe(&ring_);
    }
    return s;
}

// The SQ thread advances the ring's head once it has prepared (copied) the SQEs before it; a
// sleeping thread is woken by io_uring_submit (IORING_SQ_NEED_WAKEUP). After a short spin the
// loop yields its CPU, which the SQ thread may share.
void Uring::wait_sq_empty() noexcept {
    for (unsigned spins = 0; io_uring_sq_ready(&ring_) > 0; ++spins) {
        io_uring_submit(&ring_);
        if (spins < 64) {
            __builtin_ia32_pause();
        } else {
            sched_yield();
        }
    }
}

bool Uring::submit_and_wait(int& error) {
    const int ret = io_uring_submit_and_wait(&ring_, 1);
    if (ret >= 0 || ret == -EINTR || ret == -EAGAIN || ret == -EBUSY) return true;
    error = -ret;
    return false;
}

bool Uring::submit(int& error) {
    const int ret = io_uring_submit_and_get_events(&ring_);
    if (ret >= 0 || ret == -EINTR || ret == -EAGAIN || ret == -EBUSY) return true;
    error = -ret;
    return false;
}

int Uring::register_file(unsigned slot, int fd) noexcept {
    const int ret = io_uring_register_files_update(&ring_, slot, &fd, 1);
    return ret < 0 ? ret : 0;
}

}  // namespace herald::net
