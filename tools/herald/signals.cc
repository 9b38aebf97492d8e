#include "tools/herald/signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace herald::tools {
namespace {

constexpr int kMaxSignal = 65;  // signal numbers 1..64 on Linux

// Signal names, filled before any handler is installed: the handler only reads them.
char g_names[kMaxSignal][24];
std::atomic<bool> g_logged[kMaxSignal];

bool left_alone(int sig) {
    switch (sig) {
        case SIGKILL:
        case SIGSTOP:
        case SIGCONT:
        case SIGSEGV:
        case SIGBUS:
        case SIGFPE:
        case SIGILL:
        case SIGTRAP:
        case SIGABRT:
        case SIGSYS:
        case SIGINT:
        case SIGTERM:
        case SIGPIPE:
            return true;
        default:
            return false;
    }
}

// Appends `text` at `at` in `line` (bounded by `end`); async-signal-safe.
char* append(char* at, const char* end, const char* text) {
    while (*text != '\0' && at < end) *at++ = *text++;
    return at;
}

char* append_number(char* at, const char* end, long value) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value > 0 && n < 23);
    while (n > 0 && at < end) *at++ = digits[--n];
    return at;
}

// Logs the first delivery of `sig` to this process (one write(2)), then nothing: the signal is
// ignored. Only async-signal-safe calls.
void log_and_ignore(int sig) {
    if (sig <= 0 || sig >= kMaxSignal || g_logged[sig].exchange(true)) return;
    const int saved = errno;
    char line[160];
    const char* end = line + sizeof line - 1;
    char* at = append(line, end, "herald: level=warn event=signal_ignored signal=");
    at = append(at, end, g_names[sig]);
    at = append(at, end, " pid=");
    at = append_number(at, end, static_cast<long>(getpid()));
    at = append(at, end, " note=\"logged once per process\"\n");
    (void)!write(STDERR_FILENO, line, static_cast<std::size_t>(at - line));
    errno = saved;
}

void name_signals() {
    for (int sig = 1; sig < kMaxSignal; ++sig) {
        const char* abbrev = sigabbrev_np(sig);
        if (abbrev != nullptr) {
            std::snprintf(g_names[sig], sizeof g_names[sig], "SIG%s", abbrev);
        } else if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
            std::snprintf(g_names[sig], sizeof g_names[sig], "SIGRTMIN+%d", sig - SIGRTMIN);
        } else {
            std::snprintf(g_names[sig], sizeof g_names[sig], "%d", sig);
        }
    }
}

}  // namespace

void install_signal_policy() {
    name_signals();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction action {};
    action.sa_handler = log_and_ignore;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (int sig = 1; sig < kMaxSignal && sig <= SIGRTMAX; ++sig) {
        if (left_alone(sig)) continue;
        // glibc keeps two real-time signals for itself: sigaction refuses them, as intended.
        sigaction(sig, &action, nullptr);
    }
}

void reset_signal_log() noexcept {
    for (std::atomic<bool>& logged : g_logged) logged.store(false, std::memory_order_relaxed);
}

}  // namespace herald::tools
