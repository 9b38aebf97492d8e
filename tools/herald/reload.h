// A SIGHUP reload in one herald process: read the options again (the config file with them),
// keep what can change live, and say what changed and what needs a restart.
#pragma once

#include <optional>

#include "tools/herald/options.h"

namespace herald::tools {

// Whether a process writes the "what changed" lines (the master or a single process) or only
// applies them (the workers and the hub: the master already said it).
enum class ReloadLog : std::uint8_t { kAnnounce, kQuiet };

class Reloader {
  public:
    // `running`: the options the process started with (its args are read again on reload).
    explicit Reloader(HeraldOptions running) : running_(std::move(running)) {}

    // Reads the options again. On success applies the live keys to running() and to the log
    // level, logs (kAnnounce) one line "event=reload changed=..." and, when keys that need a
    // restart differ, one line "event=reload_needs_restart keys=...", and returns running().
    // On failure logs "event=reload_failed reason=..." (the file, line and key) and returns
    // nothing: the process keeps its options.
    const HeraldOptions* reload(ReloadLog log);

    const HeraldOptions& running() const noexcept { return running_; }

  private:
    HeraldOptions running_;
};

}  // namespace herald::tools
