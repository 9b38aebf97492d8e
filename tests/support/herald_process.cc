#include "tests/support/herald_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
}

// Appends what is readable on fd (non-blocking) to out; false at EOF.
bool drain(int fd, std::string& out) {
    char buf[4096];
    while (true) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        return n < 0 && errno == EAGAIN;
    }
}

pid_t spawn(const std::vector<std::string>& argv, int& out_fd, int& err_fd) {
    int out_pipe[2];
    int err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_fd = out_pipe[0];
    err_fd = err_pipe[0];
    fcntl(out_fd, F_SETFL, O_NONBLOCK);
    fcntl(err_fd, F_SETFL, O_NONBLOCK);
    return pid;
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

const char* herald_binary() { return HERALD_BINARY; }

HeraldProcess::HeraldProcess(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {herald_binary(), "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = spawn(argv, stdout_fd_, stderr_fd_);
    if (pid_ < 0) return;
    std::string out;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    const std::string prefix = "herald listening on ";
    while (Clock::now() < deadline) {
        pollfd p{stdout_fd_, POLLIN, 0};
        poll(&p, 1, std::min(ms_left(deadline), 100));
        const bool open = drain(stdout_fd_, out);
        drain(stderr_fd_, stderr_);
        const auto nl = out.find('\n');
        if (nl != std::string::npos) {
            line_ = out.substr(0, nl);
            if (line_.starts_with(prefix)) {
                port_ = static_cast<std::uint16_t>(std::atoi(line_.c_str() + line_.rfind(':') + 1));
            }
            return;
        }
        if (!open) return;
    }
}

HeraldProcess::~HeraldProcess() {
    if (pid_ > 0) stop(SIGKILL, 5000);
    drain(stderr_fd_, stderr_);
    for (const char* marker :
         {"runtime error:", "ERROR: AddressSanitizer", "LeakSanitizer", "invariant violated"}) {
        if (stderr_.find(marker) != std::string::npos) {
            ADD_FAILURE() << "herald reported a defect on stderr:\n" << stderr_;
        }
    }
    if (!allow_deaths_ && (stderr_.find("killed by signal") != std::string::npos ||
                           stderr_.find("exited with status") != std::string::npos)) {
        ADD_FAILURE() << "a herald worker died:\n" << stderr_;
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
    if (stderr_fd_ >= 0) close(stderr_fd_);
}

int HeraldProcess::stop(int sig, int timeout_ms) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 0;
    while (true) {
        drain(stderr_fd_, stderr_);
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) break;
        if (Clock::now() >= deadline) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
            pid_ = -1;
            return -1;
        }
        usleep(5000);
    }
    drain(stderr_fd_, stderr_);
    pid_ = -1;
    return status;
}

std::string HeraldProcess::stderr_text() {
    drain(stderr_fd_, stderr_);
    return stderr_;
}

int HeraldProcess::open_fds() const {
    int n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd")) {
        ++n;
    }
    return n;
}

long HeraldProcess::rss_bytes() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    while (status >> key) {
        if (key == "VmRSS:") {
            long kb = 0;
            status >> kb;
            return kb * 1024;
        }
    }
    return -1;
}

std::uint64_t stats_total(std::uint16_t port, const std::string& name) {
    return stats_total_in(http_exchange(port, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n"), name);
}

std::uint64_t stats_total_tls(std::uint16_t port, const std::string& name) {
    return stats_total_in(https_exchange(port, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n"), name);
}

std::uint64_t stats_total_in(const std::string& s, const std::string& name) {
    const auto totals = s.find("\"totals\":{");
    if (totals == std::string::npos) return 0;
    const auto at = s.find("\"" + name + "\":", totals);
    if (at == std::string::npos) return 0;
    return std::stoull(s.substr(at + name.size() + 3));
}

RunResult run_program(const std::vector<std::string>& argv, int timeout_ms) {
    RunResult result;
    int out_fd = -1;
    int err_fd = -1;
    const pid_t pid = spawn(argv, out_fd, err_fd);
    if (pid < 0) return result;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 0;
    bool exited = false;
    while (!exited) {
        pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
        poll(p, 2, 20);
        drain(out_fd, result.out);
        drain(err_fd, result.err);
        exited = waitpid(pid, &status, WNOHANG) == pid;
        if (!exited && Clock::now() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(out_fd);
            close(err_fd);
            return result;
        }
    }
    drain(out_fd, result.out);
    drain(err_fd, result.err);
    close(out_fd);
    close(err_fd);
    result.status = decode_status(status);
    return result;
}

}  // namespace herald::test
