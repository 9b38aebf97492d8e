// Starts the real herald binary for a test and always stops it (RAII, by PID).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::test {

// Path of the herald executable under test (set by CMake).
const char* herald_binary();

class HeraldProcess {
  public:
    // Starts `herald --listen 127.0.0.1:0 <args>` and waits (up to 10 s) for its
    // "herald listening on ws://HOST:PORT" (or wss://) line. ok() says whether it came.
    explicit HeraldProcess(const std::vector<std::string>& args = {});
    // Stops the process and fails the current test if its stderr shows a sanitizer report or
    // (unless allowed) a worker that died.
    ~HeraldProcess();
    HeraldProcess(const HeraldProcess&) = delete;
    HeraldProcess& operator=(const HeraldProcess&) = delete;

    bool ok() const noexcept { return port_ != 0; }
    // Worker deaths are expected (the test kills one): do not fail on the master's restart log.
    void allow_worker_deaths() noexcept { allow_deaths_ = true; }
    std::uint16_t port() const noexcept { return port_; }
    pid_t pid() const noexcept { return pid_; }
    const std::string& listening_line() const noexcept { return line_; }

    // Sends `sig` and waits up to timeout_ms for the exit. Returns the wait status, or -1 on
    // timeout (the process is then killed).
    int stop(int sig, int timeout_ms = 5000);
    // Everything the process wrote to stderr so far.
    std::string stderr_text();
    // Number of open descriptors (/proc/PID/fd).
    int open_fds() const;
    // Resident set size in bytes (/proc/PID/status VmRSS).
    long rss_bytes() const;

  private:
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    int stdout_fd_ = -1;
    int stderr_fd_ = -1;
    std::string line_;
    std::string stderr_;
    bool allow_deaths_ = false;
};

// The value of counter `name` in the "totals" of GET /stats (0 when absent).
std::uint64_t stats_total(std::uint16_t port, const std::string& name);
// The same for a wss:// herald (GET /stats over TLS).
std::uint64_t stats_total_tls(std::uint16_t port, const std::string& name);
// The value of counter `name` in the "totals" of a GET /stats response (0 when absent).
std::uint64_t stats_total_in(const std::string& response, const std::string& name);

// Runs `argv` to completion (timeout 10 s); returns the exit status (or -1) and the output.
struct RunResult {
    int status = -1;  // WEXITSTATUS, or 128 + signal, or -1 on timeout
    std::string out;
    std::string err;
};
RunResult run_program(const std::vector<std::string>& argv, int timeout_ms = 10000);

}  // namespace herald::test
