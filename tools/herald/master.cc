#include "tools/herald/master.h"

#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "channel/peer_mesh.h"
#include "channel/shm_region.h"
#include "net/endpoint.h"
#include "net/log.h"
#include "net/uring.h"
#include "tools/herald/hub_process.h"
#include "tools/herald/reload.h"
#include "tools/herald/signals.h"
#include "tools/herald/worker.h"

namespace herald::tools {
namespace {

// The port a multi-process herald serves, held by the master for its workers.
struct Reservation {
    int fd = -1;             // a bound SO_REUSEPORT socket that keeps the port ours
    net::Endpoint endpoint;  // where the workers listen (port 0 resolved)
};

// Reserves the port for the workers' SO_REUSEPORT listeners: first a plain bind (fails when
// anyone else holds the port, even with SO_REUSEPORT), then a SO_REUSEPORT bind that stays open
// so the port stays ours while workers restart. The reservation, or why the port is not ours.
core::Result<Reservation> reserve_port(net::Endpoint endpoint) {
    auto plain = net::listen_on(endpoint, net::ListenOptions{.reuse_port = false, .backlog = 1});
    if (!plain) return core::Error{plain.error()};
    close(*plain);  // `endpoint` now has its port resolved
    const int fd = socket(endpoint.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&endpoint.addr), endpoint.addr_len) != 0) {
        const int err = errno;
        close(fd);
        return core::Error{"cannot reserve " + endpoint.to_string() + ": " + std::strerror(err)};
    }
    return Reservation{fd, endpoint};
}

class Master {
  public:
    explicit Master(const HeraldOptions& options) : options_(options) {}
    int run();

  private:
    struct Worker {
        pid_t pid = -1;
        core::Nanos started = 0;
        core::Nanos restart_at = 0;  // 0: not waiting for a restart
        unsigned quick_deaths = 0;   // deaths within 5 s of starting, in a row
    };

    core::Status prepare();
    pid_t spawn(std::uint32_t index);
    [[noreturn]] void worker_main(std::uint32_t index);
    [[noreturn]] void hub_main(std::uint32_t index);
    void child_setup(std::uint32_t index);
    std::string name(std::uint32_t index) const {
        return index == options_.workers ? "hub" : "worker " + std::to_string(index);
    }
    std::uint32_t processes() const { return options_.workers + (options_.hub ? 1 : 0); }
    bool is_hub(std::uint32_t index) const { return options_.hub && index == options_.workers; }
    bool wait_ready(std::uint32_t index);
    void reap();
    void stop_all();
    // One signal read from the signalfd; false when it asks the master to stop.
    bool on_signal(const signalfd_siginfo& info);
    void reload();

    HeraldOptions options_;
    net::Endpoint endpoint_;
    int reservation_fd_ = -1;
    int signal_fd_ = -1;
    channel::ShmRegion region_;
    pid_t master_pid_ = getpid();
    std::vector<int> wake_fds_;
    std::vector<Worker> workers_;
    bool stopping_ = false;
};

core::Status Master::prepare() {
    core::Result<Reservation> reserved = reserve_port(options_.server.listen);
    if (!reserved) return core::Error{reserved.error()};
    reservation_fd_ = reserved->fd;
    endpoint_ = reserved->endpoint;

    // Probe io_uring here, so a blocked io_uring is reported once, not by every worker.
    io_uring probe{};
    if (const int ret = io_uring_queue_init(2, &probe, 0); ret != 0) {
        // Uring::init words the cause and the fix.
        net::Uring uring;
        if (core::Status ok = uring.init(net::UringConfig{.entries = 2}); !ok) return ok;
    } else {
        io_uring_queue_exit(&probe);
    }

    // A mesh hub keeps its peers' windows in the region (docs/CLUSTER.md "Hub restarts").
    const channel::HubOptions& hub = options_.hub_options;
    const bool mesh = options_.hub && hub.engine == channel::Engine::kMesh && hub.cluster_enabled;
    auto region = channel::ShmRegion::create(processes(), options_.ring_size,
                                             mesh ? channel::hub::kWindowSlots : 0,
                                             channel::hub::window_capacity(hub));
    if (!region) return core::Error{region.error()};
    region_ = std::move(region.value());
    for (unsigned i = 0; i < processes(); ++i) {
        const int fd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0) {
            return core::Error{std::string("cannot create an eventfd: ") + std::strerror(errno)};
        }
        wake_fds_.push_back(fd);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC);
    workers_.resize(processes());
    return {};
}

pid_t Master::spawn(std::uint32_t index) {
    channel::ProcessSlot& slot = region_.process(index);
    slot.ready.store(0, std::memory_order_relaxed);
    // The previous incarnation's reader slots no longer hold the writers back; the hub's do
    // (its next process resumes where the last one stopped reading, ShmRelay::attach()).
    for (std::uint32_t p = 0; p < region_.processes() && !is_hub(index); ++p) {
        if (p != index) region_.ring(p).detach(index);
    }
    const pid_t pid = fork();
    if (pid == 0 && index == options_.workers) hub_main(index);
    if (pid == 0) worker_main(index);
    if (pid > 0) {
        slot.pid.store(pid, std::memory_order_relaxed);
        workers_[index].pid = pid;
        workers_[index].started = core::now_ns();
        workers_[index].restart_at = 0;
    }
    return pid;
}

// In a freshly forked child: never outlive the master, drop the master's descriptors.
void Master::child_setup(std::uint32_t index) {
    // A child never outlives its master (killed, crashed): it gets SIGTERM and stops cleanly.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master_pid_) _exit(0);  // the master died before prctl took effect
    reset_signal_log();
    close(signal_fd_);
    close(reservation_fd_);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    if (options_.pin) {
        cpu_set_t cpus;
        CPU_ZERO(&cpus);
        CPU_SET(index % static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN)), &cpus);
        sched_setaffinity(0, sizeof cpus, &cpus);
    }
}

void Master::hub_main(std::uint32_t index) {
    child_setup(index);
    const int code = run_hub_process(options_, region_, index, wake_fds_);
    std::fflush(stderr);
    _exit(code);
}

void Master::worker_main(std::uint32_t index) {
    child_setup(index);
    net::ServerOptions server = options_.server;
    server.listen = endpoint_;  // the reserved port (port 0 resolved)
    const WorkerSeat seat{region_, index, wake_fds_, options_.relay,
                          options_.hub ? options_.workers : UINT32_MAX};
    Reloader reloader(options_);
    const core::Status ran = run_worker(server, &seat, &reloader);
    if (!ran) std::fprintf(stderr, "herald: worker %u: %s\n", index, ran.error().c_str());
    std::fflush(stderr);
    _exit(ran ? 0 : 1);
}

bool Master::wait_ready(std::uint32_t index) {
    const core::Nanos deadline = core::now_ns() + 10 * core::kSecond;
    while (core::now_ns() < deadline) {
        if (region_.process(index).ready.load(std::memory_order_acquire) == 1) return true;
        int status = 0;
        if (waitpid(workers_[index].pid, &status, WNOHANG) == workers_[index].pid) {
            workers_[index].pid = -1;
            return false;
        }
        usleep(1000);
    }
    return false;
}

// Collects every child that exited and schedules its restart (unless stopping), with a line on
// stderr saying who died, how, and when it comes back.
void Master::reap() {
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (std::uint32_t i = 0; i < workers_.size(); ++i) {
            Worker& w = workers_[i];
            if (w.pid != pid) continue;
            w.pid = -1;
            if (stopping_) continue;
            const core::Nanos now = core::now_ns();
            w.quick_deaths = now - w.started < 5 * core::kSecond ? w.quick_deaths + 1 : 0;
            // The first restart is immediate; a crash loop backs off 0.1 s, 0.2 s ... 5 s.
            core::Nanos delay = 0;
            if (w.quick_deaths > 1) {
                delay = std::min<core::Nanos>(
                    100 * core::kMillisecond << std::min(w.quick_deaths - 2, 6u),
                    options_.restart_backoff_max);
            }
            w.restart_at = now + delay + 1;
            // A dead worker's slots stop holding the writers back at once; a dead hub's stay,
            // so its next process forwards what was written meanwhile (a writer laps them after
            // --ring-stall, and the new hub reports that loss to its peers as every group lost).
            for (std::uint32_t p = 0; p < region_.processes() && !is_hub(i); ++p) {
                if (p != i) region_.ring(p).detach(i);
            }
            char why[64];
            if (WIFSIGNALED(status)) {
                std::snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
            } else {
                std::snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
            }
            net::log_event(net::LogLevel::kError, "child_exit",
                           "process=\"%s\" pid=%d why=\"%s\" restart_in=%.2fs note=\"%s (pid %d) "
                           "%s; restarting in %.2f s\"",
                           name(i).c_str(), pid, why, static_cast<double>(delay) / 1e9,
                           name(i).c_str(), pid, why, static_cast<double>(delay) / 1e9);
        }
    }
}

void Master::stop_all() {
    stopping_ = true;
    for (const Worker& w : workers_) {
        if (w.pid > 0) kill(w.pid, SIGTERM);
    }
    const core::Nanos deadline =
        core::now_ns() + options_.server.close_timeout + 500 * core::kMillisecond;
    while (core::now_ns() < deadline) {
        reap();
        bool alive = false;
        for (const Worker& w : workers_) alive = alive || w.pid > 0;
        if (!alive) return;
        usleep(2000);
    }
    for (const Worker& w : workers_) {
        if (w.pid > 0) kill(w.pid, SIGKILL);
    }
    while (waitpid(-1, nullptr, 0) > 0) {
    }
}

bool Master::on_signal(const signalfd_siginfo& info) {
    if (info.ssi_signo == SIGHUP) {
        reload();
        return true;
    }
    if (info.ssi_signo != SIGINT && info.ssi_signo != SIGTERM) return true;  // SIGCHLD: reap()
    sd_notify(0, "STOPPING=1");
    net::log_event(net::LogLevel::kInfo, "stopping", "signal=%s",
                   info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
    return false;
}

// SIGHUP: the master reads the options again, says what changed, keeps the live keys for the
// children it starts from now on, and passes SIGHUP on to every child (each applies them).
void Master::reload() {
    notify_systemd_reloading();
    Reloader reloader(options_);
    if (const HeraldOptions* fresh = reloader.reload(ReloadLog::kAnnounce)) {
        apply_live_options(options_, *fresh);
        for (const Worker& w : workers_) {
            if (w.pid > 0) kill(w.pid, SIGHUP);
        }
    }
    sd_notify(0, "READY=1");
}

int Master::run() {
    if (core::Status prepared = prepare(); !prepared) {
        std::fprintf(stderr, "herald: %s\n", prepared.error().c_str());
        return 1;
    }
    for (std::uint32_t i = 0; i < processes(); ++i) {
        if (spawn(i) < 0 || !wait_ready(i)) {
            stop_all();
            return 1;  // the worker printed why
        }
    }
    std::printf("herald listening on %s://%s\n", options_.server.tls.cert.empty() ? "ws" : "wss",
                endpoint_.to_string().c_str());
    std::fflush(stdout);
    sd_notify(0, "READY=1");

    while (true) {
        // Sleep until a signal or the next restart is due.
        core::Nanos next = 0;
        for (const Worker& w : workers_) {
            if (w.restart_at != 0 && (next == 0 || w.restart_at < next)) next = w.restart_at;
        }
        int timeout_ms = -1;
        if (next != 0) {
            timeout_ms =
                static_cast<int>(std::max<core::Nanos>(0, next - core::now_ns()) / 1'000'000);
        }
        pollfd p{signal_fd_, POLLIN, 0};
        poll(&p, 1, timeout_ms);
        if ((p.revents & POLLIN) != 0) {
            signalfd_siginfo info{};
            if (read(signal_fd_, &info, sizeof info) == sizeof info && !on_signal(info)) {
                stop_all();
                return 0;
            }
        }
        reap();
        const core::Nanos now = core::now_ns();
        for (std::uint32_t i = 0; i < workers_.size(); ++i) {
            Worker& w = workers_[i];
            if (w.restart_at == 0 || w.restart_at > now) continue;
            region_.process(i).restarts.fetch_add(1, std::memory_order_relaxed);
            if (spawn(i) < 0) w.restart_at = now + 100 * core::kMillisecond;
        }
    }
}

}  // namespace

int run_master(const HeraldOptions& options) { return Master(options).run(); }

}  // namespace herald::tools
