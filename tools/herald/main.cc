// herald: the WebSocket group broadcaster's executable. Parses the flags, then runs one worker
// (--workers 1, no cluster flags) or a master that supervises worker processes and a hub.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "net/tls_context.h"
#include "tools/herald/master.h"
#include "tools/herald/options.h"
#include "tools/herald/reload.h"
#include "tools/herald/signals.h"
#include "tools/herald/worker.h"

namespace {

// Lets herald hold as many connections as the hard limit allows.
void raise_open_file_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// Prints "herald: LINE" on stderr; returns `code`.
int fail(const std::string& line, int code) {
    std::fprintf(stderr, "herald: %s\n", line.c_str());
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace herald::tools;
    const auto cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
    herald::core::Result<HeraldOptions> options = parse_options(argc, argv, cpus);
    if (!options) return fail(options.error(), 2);
    if (options->help) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    }
    if (options->version) {
        std::puts("herald " HERALD_VERSION);
        return 0;
    }
    if (options->print_config) {
        std::fputs(print_config_text(*options).c_str(), stdout);
        return 0;
    }
    herald::net::set_log_level(options->log_level);
    raise_open_file_limit();
    install_signal_policy();
    if (!options->multi_process()) {
        Reloader reloader(*options);
        const herald::core::Status ran = run_worker(options->server, nullptr, &reloader);
        return ran ? 0 : fail(ran.error(), 1);
    }
    if (options->workers > cpus) {
        std::fprintf(stderr, "herald: note: %u workers on %u CPUs: workers will share cores\n",
                     options->workers, cpus);
    }
    if (const herald::core::Status fits = check_multi_process(*options); !fits) {
        return fail(fits.error(), 2);
    }
    if (!options->server.tls.cert.empty()) {
        // Each worker loads the files again after the fork; this load only fails fast, with
        // the one line naming the file, before any worker starts.
        auto tls = herald::net::TlsContext::load(options->server.tls);
        if (!tls) return fail(tls.error(), 1);
    }
    return run_master(*options);
}
