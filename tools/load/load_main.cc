// herald-load: the coordinator. Forks the load processes, moves them through the phases
// (connect, confirm, run, drain, report), samples the server's CPU and memory, prints progress
// and the results.
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tools/load/loader.h"
#include "tools/load/report.h"

namespace {

using namespace herald;
using namespace herald::load;

// The pids given and all their descendants (a multi-process server's workers).
std::set<pid_t> with_descendants(const std::vector<pid_t>& roots) {
    std::set<pid_t> all;
    std::vector<pid_t> todo(roots.begin(), roots.end());
    while (!todo.empty()) {
        const pid_t pid = todo.back();
        todo.pop_back();
        if (!all.insert(pid).second) continue;
        const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
        DIR* dir = opendir(tasks.c_str());
        if (dir == nullptr) continue;
        while (dirent* e = readdir(dir)) {
            if (e->d_name[0] == '.') continue;
            std::ifstream children(tasks + "/" + e->d_name + "/children");
            pid_t child = 0;
            while (children >> child) todo.push_back(child);
        }
        closedir(dir);
    }
    return all;
}

// CPU seconds (user + system) of the server processes.
double server_cpu(const std::vector<pid_t>& roots) {
    double ticks = 0;
    for (pid_t pid : with_descendants(roots)) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string content((std::istreambuf_iterator<char>(stat)),
                            std::istreambuf_iterator<char>());
        const auto close = content.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(content.substr(close + 2));
        std::string field;
        double utime = 0;
        double stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::stod(field);
            if (i == 15) stime = std::stod(field);
        }
        ticks += utime + stime;
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Resident memory (bytes) of the server processes.
double server_rss(const std::vector<pid_t>& roots) {
    double bytes = 0;
    for (pid_t pid : with_descendants(roots)) {
        std::ifstream status("/proc/" + std::to_string(pid) + "/status");
        std::string key;
        while (status >> key) {
            if (key == "VmRSS:") {
                double kb = 0;
                status >> kb;
                bytes += kb * 1024;
                break;
            }
        }
    }
    return bytes;
}

// Proportional memory of the server processes (bytes) from /proc/PID/smaps_rollup: each shared
// page divided among the processes that map it (Pss), and the anonymous part of that (Pss_Anon:
// heap and anonymous mappings, not the shared-memory region or code). -1 for a figure some
// process does not show: no permission to read it, a kernel without smaps_rollup (< 4.14) or
// without Pss_Anon (< 5.x). A process that exited in between counts nothing, as in server_rss.
struct Proportional {
    double pss = -1;
    double anon = -1;
};
Proportional server_pss(const std::vector<pid_t>& roots) {
    Proportional sum{0, 0};
    for (pid_t pid : with_descendants(roots)) {
        const std::string dir = "/proc/" + std::to_string(pid);
        std::FILE* f = std::fopen((dir + "/smaps_rollup").c_str(), "re");
        if (f == nullptr) {
            if (access(dir.c_str(), F_OK) != 0) continue;  // gone
            return {};
        }
        char line[256];
        double pss = -1;
        double anon = -1;
        while (std::fgets(line, sizeof line, f) != nullptr) {
            double kb = 0;
            if (std::sscanf(line, "Pss: %lf kB", &kb) == 1) pss = kb * 1024;
            if (std::sscanf(line, "Pss_Anon: %lf kB", &kb) == 1) anon = kb * 1024;
        }
        std::fclose(f);
        if (pss < 0) continue;  // no memory to show (a zombie): nothing, as VmRSS
        sum.pss += pss;
        sum.anon = anon < 0 || sum.anon < 0 ? -1 : sum.anon + anon;
    }
    return sum;
}

void raise_open_file_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

class Coordinator {
  public:
    explicit Coordinator(LoadOptions& o) : o_(o) {}
    // Runs every phase; returns herald-load's exit status (see kSummary in load_options.cc).
    int run();

  private:
    bool map_shared();
    void fork_loaders();
    int connect_and_confirm();
    bool measure(Results& r);
    void drain_and_report();
    void collect(Results& r) const;
    void write_outputs(const Results& r) const;
    void abort_run(const char* why);
    bool wait_all(std::uint32_t status, core::Nanos deadline, const char* what);
    void progress(const char* what);
    void sleep_until(core::Nanos at, const char* what);
    void set_phase(Phase p) { shared_.header->phase.store(p, std::memory_order_release); }
    bool child_died();

    LoadOptions& o_;
    SharedView shared_{};
    std::vector<pid_t> children_;
    core::Nanos last_progress_ = 0;
    std::uint64_t last_sent_ = 0;
    std::uint64_t last_delivered_ = 0;
    double confirm_s_ = 0;  // how long the confirm phase took
};
bool Coordinator::child_died() {
    for (pid_t& pid : children_) {
        int status = 0;
        if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) return true;
        }
    }
    return false;
}

void Coordinator::progress(const char* what) {
    const core::Nanos now = core::now_ns();
    if (o_.quiet || now - last_progress_ < core::kSecond) return;
    const double dt = last_progress_ == 0 ? 1.0 : static_cast<double>(now - last_progress_) / 1e9;
    last_progress_ = now;
    std::uint64_t open = 0, confirmed = 0, sent = 0, delivered = 0, errors = 0;
    for (std::uint32_t i = 0; i < o_.procs; ++i) {
        const ProcessSlot& s = shared_.slots[i];
        open += s.open.load(std::memory_order_relaxed);
        confirmed += s.confirmed.load(std::memory_order_relaxed);
        sent += s.sent.load(std::memory_order_relaxed);
        delivered += s.delivered.load(std::memory_order_relaxed);
        errors += s.errors.load(std::memory_order_relaxed);
    }
    std::fprintf(stderr,
                 "herald-load: %-8s open %llu confirmed %llu sent %llu (%.0f/s) delivered %llu "
                 "(%.0f/s) errors %llu\n",
                 what, static_cast<unsigned long long>(open),
                 static_cast<unsigned long long>(confirmed), static_cast<unsigned long long>(sent),
                 static_cast<double>(sent - last_sent_) / dt,
                 static_cast<unsigned long long>(delivered),
                 static_cast<double>(delivered - last_delivered_) / dt,
                 static_cast<unsigned long long>(errors));
    last_sent_ = sent;
    last_delivered_ = delivered;
}

bool Coordinator::wait_all(std::uint32_t status, core::Nanos deadline, const char* what) {
    while (core::now_ns() < deadline) {
        bool all = true;
        for (std::uint32_t i = 0; i < o_.procs; ++i) {
            all = all && shared_.slots[i].status.load(std::memory_order_acquire) >= status;
        }
        if (all) return true;
        if (child_died()) return false;
        progress(what);
        usleep(1000);
    }
    return false;
}

void Coordinator::sleep_until(core::Nanos at, const char* what) {
    while (core::now_ns() < at) {
        progress(what);
        const core::Nanos left = at - core::now_ns();
        if (left > 0) usleep(static_cast<useconds_t>(std::min<core::Nanos>(left / 1000, 10000)));
    }
}

// The load processes' shared memory: their counters, the phase, the publishers' tallies, the
// groups' unconfirmed members.
bool Coordinator::map_shared() {
    const std::size_t bytes = SharedView::bytes(o_.procs, std::max(1u, o_.publishers), o_.groups);
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return false;
    shared_ = SharedView::create(mem, o_.procs, std::max(1u, o_.publishers), o_.groups);
    return true;
}

// Forks o_.procs load processes, each with its share of the connections.
void Coordinator::fork_loaders() {
    const std::uint32_t per = (o_.conns + o_.procs - 1) / o_.procs;
    for (std::uint32_t p = 0; p < o_.procs; ++p) {
        const std::uint32_t first = p * per;
        const std::uint32_t count = first >= o_.conns ? 0 : std::min(per, o_.conns - first);
        const pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the coordinator
            int code = Loader(o_, shared_, p, first, count).run();
            _exit(code);
        }
        children_.push_back(pid);
    }
}

// Prints why, asks the load processes to stop, then kills and reaps them.
void Coordinator::abort_run(const char* why) {
    std::fprintf(stderr, "herald-load: %s\n", why);
    set_phase(kAbort);
    wait_all(kReported, core::now_ns() + 5 * core::kSecond, "abort");
    for (pid_t pid : children_) {
        if (pid > 0) kill(pid, SIGKILL);
    }
    while (wait(nullptr) > 0) {
    }
}

// The connect and confirm phases; 0 when every member is confirmed, else the exit status.
int Coordinator::connect_and_confirm() {
    if (!wait_all(kJoined, core::now_ns() + 60 * core::kSecond, "connect")) {
        abort_run("connecting took over 60 s or a load process died");
        return 2;
    }
    std::uint64_t open = 0;
    for (std::uint32_t i = 0; i < o_.procs; ++i) open += shared_.slots[i].open.load();
    if (open == 0) {
        abort_run("no connection could be opened (is the server running at the URL?)");
        return 2;
    }
    set_phase(kConfirm);
    const core::Nanos confirm_start = core::now_ns();
    if (wait_all(kConfirmed, confirm_start + o_.confirm_timeout, "confirm")) {
        confirm_s_ = static_cast<double>(core::now_ns() - confirm_start) / 1e9;
        return 0;
    }
    set_phase(kReport);
    wait_all(kReported, core::now_ns() + 5 * core::kSecond, "report");
    std::uint64_t unconfirmed = 0;
    for (std::uint32_t i = 0; i < o_.procs; ++i) unconfirmed += shared_.slots[i].unconfirmed;
    std::fprintf(stderr,
                 "herald-load: %llu connection(s) never received a message of their group "
                 "within %.0f s: the server ignored their joins (or never delivers)\n",
                 static_cast<unsigned long long>(unconfirmed),
                 static_cast<double>(o_.confirm_timeout) / 1e9);
    while (wait(nullptr) > 0) {
    }
    return 3;
}

// Warm-up and the measured window, sampling the server's CPU (and memory when idle); false
// when a load process stopped responding.
bool Coordinator::measure(Results& r) {
    const core::Nanos t0 = core::now_ns() + 50 * core::kMillisecond;
    const core::Nanos start = t0 + o_.warmup;
    const core::Nanos end = start + o_.duration;
    shared_.header->t0.store(t0, std::memory_order_relaxed);
    shared_.header->measure_start.store(start, std::memory_order_relaxed);
    shared_.header->measure_end.store(end, std::memory_order_relaxed);
    set_phase(kRun);
    sleep_until(start, "warmup");
    const double cpu0 = o_.server_pids.empty() ? 0 : server_cpu(o_.server_pids);
    sleep_until(end, "run");
    if (!o_.server_pids.empty()) r.server_cpu_s = server_cpu(o_.server_pids) - cpu0;
    // Idle: the memory of the server holding every connection after the quiet --duration.
    if (o_.scenario == Scenario::kIdle) {
        r.server_rss_after = server_rss(o_.server_pids);
        const Proportional after = server_pss(o_.server_pids);
        r.server_pss_after = after.pss;
        r.server_anon_after = after.anon;
    }
    return wait_all(kSent, end + 10 * core::kSecond, "run");
}

void Coordinator::drain_and_report() {
    set_phase(kDrain);
    wait_all(kDrained, core::now_ns() + o_.drain + core::kSecond, "drain");
    set_phase(kReport);
    wait_all(kReported, core::now_ns() + 10 * core::kSecond, "report");
    while (wait(nullptr) > 0) {
    }
}

// Sums what every load process reported, and the publishers' expected and unique deliveries.
void Coordinator::collect(Results& r) const {
    r.seconds = static_cast<double>(o_.duration) / 1e9;
    r.confirm_s = confirm_s_;
    for (std::uint32_t i = 0; i < o_.procs; ++i) {
        const ProcessSlot& s = shared_.slots[i];
        r.latency.merge(s.latency);
        r.lateness.merge(s.lateness);
        r.conns_open += s.open.load();
        r.measured_sent += s.measured_sent;
        r.measured_deliveries += s.measured_deliveries;
        r.duplicates += s.duplicates;
        r.reorders += s.reorders;
        r.error_frames += s.error_frames;
        r.failed_conns += s.failed_conns;
        r.closed_conns += s.closed_conns;
        r.unconfirmed += s.unconfirmed;
        r.cycles += s.cycles;
        r.probes_sent += s.probes_sent;
        const double cpu = static_cast<double>(s.cpu_ns) / 1e9;
        r.load_cpu_s += cpu;
        r.load_busy_max = std::max(r.load_busy_max, cpu / r.seconds);
    }
    for (std::uint32_t p = 0; p < o_.publishers; ++p) {
        const std::uint64_t expected =
            shared_.publisher_sent[p].load() * shared_.publisher_receivers[p].load();
        const std::uint64_t unique = shared_.publisher_unique[p].load();
        r.expected_deliveries += expected;
        r.unique_deliveries += unique;
        if (expected > unique) r.lost += expected - unique;
    }
}

// The table on stdout, then --json, --histogram and --plot.
void Coordinator::write_outputs(const Results& r) const {
    std::fputs(format_table(o_, r).c_str(), stdout);
    std::fflush(stdout);
    const auto write_file = [](const std::string& path, const std::string& text) {
        std::ofstream f(path);
        f << text;
        if (!f) std::fprintf(stderr, "herald-load: cannot write %s\n", path.c_str());
    };
    if (!o_.json_file.empty()) write_file(o_.json_file, format_json(o_, r));
    if (!o_.histogram_file.empty()) write_file(o_.histogram_file, format_histogram_csv(r));
    if (!o_.plot_file.empty()) {
        const std::string title = std::string(scenario_name(o_.scenario)) + " " + o_.url;
        if (core::Status plotted = plot_histogram(r, o_.plot_file, title); !plotted) {
            std::fprintf(stderr, "herald-load: %s\n", plotted.error().c_str());
        }
    }
}

int Coordinator::run() {
    if (!map_shared()) {
        std::fprintf(stderr, "herald-load: cannot map shared memory\n");
        return 2;
    }
    Results r;
    r.procs = o_.procs;
    if (!o_.server_pids.empty()) {
        r.server_rss_before = server_rss(o_.server_pids);
        const Proportional before = server_pss(o_.server_pids);
        r.server_pss_before = before.pss;
        r.server_anon_before = before.anon;
    }
    fork_loaders();
    if (const int code = connect_and_confirm(); code != 0) return code;
    if (!measure(r)) {
        abort_run("a load process stopped responding");
        return 2;
    }
    drain_and_report();
    collect(r);
    write_outputs(r);
    const bool bad =
        r.lost + r.duplicates + r.reorders + r.error_frames + r.failed_conns + r.closed_conns > 0;
    return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    core::Result<LoadOptions> options = parse_load_options(argc, argv);
    if (!options) {
        std::fprintf(stderr, "herald-load: %s (see herald-load --help)\n", options.error().c_str());
        return 2;
    }
    if (options->help) {
        std::fputs(load_usage().c_str(), stdout);
        return 0;
    }
    raise_open_file_limit();
    signal(SIGPIPE, SIG_IGN);
    return Coordinator(*options).run();
}
