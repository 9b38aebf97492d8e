// What every signal does to a herald process: nothing is fatal by default.
//   SIGHUP           reload (each loop blocks it and reads it from its signalfd)
//   SIGINT, SIGTERM  stop gracefully (likewise read from a signalfd)
//   SIGCHLD          the master's children exiting (read from its signalfd); elsewhere ignored
//   SIGPIPE          ignored (a send to a closed socket fails with EPIPE instead)
//   every other catchable signal (USR1, USR2, ALRM, VTALRM, PROF, IO, WINCH, TSTP, TTIN, TTOU,
//   XCPU, XFSZ, PWR, STKFLT, URG, the real-time signals...) is logged once per process,
//   "herald: level=warn event=signal_ignored signal=SIGUSR1 pid=N", and ignored.
// Left as the kernel has them: SIGKILL and SIGSTOP (cannot be caught), SIGCONT (resumes), and
// the faults a bug raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS), whose
// default (a core dump) is the right answer.
#pragma once

namespace herald::tools {

// Installs the dispositions above in the calling process; children inherit them through fork.
// SIGHUP gets the log-and-ignore handler too, for the moment before a loop blocks it.
void install_signal_policy();

// In a freshly forked child: its own "logged once" marks, so that it logs a signal the master
// already logged.
void reset_signal_log() noexcept;

}  // namespace herald::tools
