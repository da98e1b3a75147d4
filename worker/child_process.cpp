// A child process under limits; see child_process.h.
#include "worker/child_process.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace verity::worker {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// What the child reports on its exec-error pipe when a step before exec
// fails: the step and errno.
struct ExecFailure {
  int step;
  int err;
};
// The process groups of the children running now (kill_running_children).
std::mutex g_running_mu;
std::set<pid_t> g_running;

const char* const kSteps[] = {"setpgid", "dup", "close fds", "signals", "setrlimit", "no_new_privs", "execve"};

struct Rlimit {
  int resource;
  rlim_t soft, hard;
};

// Runs in the forked child of a possibly multi-threaded parent: only
// async-signal-safe calls, no allocation.
[[noreturn]] void child_exec(const char* path, char* const* argv, char* const* envp, int in_fd, int out_fd,
                             int err_fd, int exec_fd, const Rlimit* rlimits, int nrlimits, bool no_new_privs) {
  auto fail = [&](int step) {
    ExecFailure f{step, errno};
    ssize_t ignored = ::write(exec_fd, &f, sizeof f);
    (void)ignored;
    ::_exit(127);
  };
  if (::setpgid(0, 0) != 0) fail(0);
  // Dies with the thread that started it, even if the parent is killed
  // outright (a compiler must not outlive a worker that was stopped).
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Move the four fds above anything we are about to overwrite, then place them.
  int fds[4] = {in_fd, out_fd, err_fd, exec_fd};
  for (int& fd : fds) {
    fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 64);
    if (fd < 0) fail(1);
  }
  exec_fd = fds[3];
  if (::dup2(fds[0], 0) != 0 || ::dup2(fds[1], 1) != 1 || ::dup2(fds[2], 2) != 2) fail(1);
  if (::dup3(fds[3], 3, O_CLOEXEC) != 3) fail(1);
  exec_fd = 3;
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 4u, ~0u, 0u) != 0)
#endif
  {
    struct rlimit nofile {};
    rlim_t top = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY ? nofile.rlim_cur
                                                                                               : 65536;
    if (top > 1u << 20) top = 1u << 20;
    for (rlim_t fd = 4; fd < top; ++fd) ::close(int(fd));
  }
  sigset_t empty;
  sigemptyset(&empty);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for KILL/STOP
  if (::sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) fail(3);
  for (int i = 0; i < nrlimits; ++i) {
    struct rlimit rl {rlimits[i].soft, rlimits[i].hard};
    if (::setrlimit(rlimits[i].resource, &rl) != 0) fail(4);
  }
  if (no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(5);
  ::execve(path, argv, envp);
  fail(6);
  ::_exit(127);
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// The child's exit status without reaping it; true once it has exited.
bool has_exited(pid_t pid) {
  siginfo_t si{};
  if (::waitid(P_PID, id_t(pid), &si, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return si.si_pid == pid;
}

}  // namespace

std::string find_on_path(const std::string& argv0) {
  if (argv0.empty()) return "";
  if (argv0.find('/') != std::string::npos) return argv0;
  const char* env = std::getenv("PATH");
  std::string path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + argv0;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return "";
}

std::string ChildResult::describe() const {
  if (!started) return "did not start: " + start_error;
  std::string s;
  if (signal != 0) {
    s = "killed by signal " + std::to_string(signal);
    if (timed_out)
      s += " (wall-clock limit " + std::to_string(wall_limit_ms) + " ms)";
    else if (out_truncated)
      s += " (output limit)";
    else if (signal == SIGXCPU)
      s += " (CPU time limit)";
    else if (signal == SIGXFSZ)
      s += " (file size limit)";
    else if (signal == SIGSYS)
      s += " (forbidden system call)";
    else if (const char* name = ::sigabbrev_np(signal))
      s += std::string(" (SIG") + name + ")";
  } else {
    s = "exited " + std::to_string(exit_code);
    if (timed_out) s += " (after the wall-clock limit " + std::to_string(wall_limit_ms) + " ms)";
    if (out_truncated) s += " (output truncated)";
  }
  return s;
}

ChildResult run_child(const std::vector<std::string>& argv, const std::vector<std::uint8_t>& stdin_bytes,
                      const ChildLimits& limits, std::size_t max_out) {
  const auto t0 = Clock::now();
  ChildResult r;
  r.wall_limit_ms = limits.wall_ms;
  if (argv.empty()) {
    r.start_error = "empty argv";
    return r;
  }
  const std::string path = find_on_path(argv[0]);
  if (path.empty()) {
    r.start_error = argv[0] + ": not found on PATH";
    return r;
  }

  // Everything the child needs, prepared before fork (the child may not allocate).
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env;
  const char* parent_path = std::getenv("PATH");
  env.push_back(std::string("PATH=") + (parent_path && *parent_path ? parent_path : "/usr/local/bin:/usr/bin:/bin"));
  if (const char* tmp = std::getenv("TMPDIR")) env.push_back(std::string("TMPDIR=") + tmp);
  env.push_back("LC_ALL=C");
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  Rlimit rl[8];
  int nrl = 0;
  rl[nrl++] = {RLIMIT_CORE, 0, 0};
  if (limits.cpu_seconds) rl[nrl++] = {RLIMIT_CPU, rlim_t(limits.cpu_seconds), rlim_t(limits.cpu_seconds + 1)};
  if (limits.address_space) rl[nrl++] = {RLIMIT_AS, rlim_t(limits.address_space), rlim_t(limits.address_space)};
  if (limits.data_bytes) rl[nrl++] = {RLIMIT_DATA, rlim_t(limits.data_bytes), rlim_t(limits.data_bytes)};
  if (limits.stack_bytes) rl[nrl++] = {RLIMIT_STACK, rlim_t(limits.stack_bytes), rlim_t(limits.stack_bytes)};
  if (limits.file_bytes) rl[nrl++] = {RLIMIT_FSIZE, rlim_t(limits.file_bytes), rlim_t(limits.file_bytes)};

  // stdin is a socket so the parent can write with MSG_NOSIGNAL.
  int in_sp[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, exec_p[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in_sp, out_p, err_p, exec_p}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sp) != 0 || ::pipe2(out_p, O_CLOEXEC) != 0 ||
      ::pipe2(err_p, O_CLOEXEC) != 0 || ::pipe2(exec_p, O_CLOEXEC) != 0) {
    r.start_error = std::string("pipe: ") + std::strerror(errno);
    close_all();
    return r;
  }

  const pid_t pid = ::fork();
  if (pid < 0) {
    r.start_error = std::string("fork: ") + std::strerror(errno);
    close_all();
    return r;
  }
  if (pid == 0)
    child_exec(path.c_str(), cargv.data(), cenv.data(), in_sp[1], out_p[1], err_p[1], exec_p[1], rl, nrl,
               limits.no_new_privs);

  ::setpgid(pid, pid);  // also done by the child; whichever runs first
  {
    std::lock_guard lock(g_running_mu);
    g_running.insert(pid);
  }
  close_fd(in_sp[1]);
  close_fd(out_p[1]);
  close_fd(err_p[1]);
  close_fd(exec_p[1]);

  // Wait for exec (the pipe closes) or its failure (the child writes why).
  ExecFailure failure{};
  ssize_t got;
  do got = ::read(exec_p[0], &failure, sizeof failure);
  while (got < 0 && errno == EINTR);
  close_fd(exec_p[0]);
  if (got == sizeof failure) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    {
      std::lock_guard lock(g_running_mu);
      g_running.erase(pid);
    }
    close_all();
    r.start_error = path + ": " + kSteps[failure.step < 0 || failure.step > 6 ? 6 : failure.step] + ": " +
                    std::strerror(failure.err);
    r.wall_ms = ms_since(t0);
    return r;
  }
  r.started = true;

  int in_fd = in_sp[0], out_fd = out_p[0], err_fd = err_p[0];
  set_nonblocking(in_fd);
  set_nonblocking(out_fd);
  set_nonblocking(err_fd);
  std::size_t in_off = 0;
  if (stdin_bytes.empty()) close_fd(in_fd);
  int pidfd = -1;
#ifdef SYS_pidfd_open
  pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
#endif

  const bool has_deadline = limits.wall_ms != 0;
  const auto deadline = t0 + std::chrono::milliseconds(limits.wall_ms);
  bool exited = false, killed = false;
  Clock::time_point grace{};  // after the child exited: how long its leftovers may hold the pipes
  auto kill_group = [&] {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  };
  std::uint8_t buf[65536];

  while (true) {
    if (!exited && has_exited(pid)) {
      exited = true;
      // The leader is a zombie (not reaped), so its pid and process group
      // id cannot be reused yet: kill what it left behind in its group.
      ::kill(-pid, SIGKILL);
      grace = Clock::now() + std::chrono::milliseconds(1000);
    }
    if (exited && out_fd < 0 && err_fd < 0) break;
    const auto now = Clock::now();
    if (has_deadline && now >= deadline) {
      if (!exited) r.timed_out = true;
      kill_group();
      killed = true;
      break;
    }
    if (exited && now >= grace) break;  // an escaped descendant holds the pipes: stop reading

    pollfd p[4];
    int n = 0, i_in = -1, i_out = -1, i_err = -1, i_pid = -1;
    if (in_fd >= 0) p[i_in = n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) p[i_out = n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) p[i_err = n++] = {err_fd, POLLIN, 0};
    if (!exited && pidfd >= 0) p[i_pid = n++] = {pidfd, POLLIN, 0};
    long timeout = -1;
    auto until = [&](Clock::time_point t) {
      long left = long(std::chrono::ceil<std::chrono::milliseconds>(t - now).count());
      if (left < 0) left = 0;
      if (timeout < 0 || left < timeout) timeout = left;
    };
    if (has_deadline) until(deadline);
    if (exited) until(grace);
    if (!exited && pidfd < 0) until(now + std::chrono::milliseconds(10));  // no pidfd: look again soon
    int ready = ::poll(p, nfds_t(n), int(timeout));
    if (ready < 0) {
      if (errno == EINTR) continue;
      kill_group();
      killed = true;
      break;
    }
    if (i_in >= 0 && p[i_in].revents) {
      std::size_t chunk = std::min<std::size_t>(stdin_bytes.size() - in_off, 1u << 16);
      ssize_t w = ::send(in_fd, stdin_bytes.data() + in_off, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) in_off += std::size_t(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == stdin_bytes.size()) close_fd(in_fd);
    }
    if (i_out >= 0 && p[i_out].revents) {
      ssize_t got_out = ::read(out_fd, buf, sizeof buf);
      if (got_out == 0 || (got_out < 0 && errno != EAGAIN && errno != EINTR)) {
        close_fd(out_fd);
      } else if (got_out > 0) {
        std::size_t room = max_out - r.out.size();
        std::size_t k = std::min<std::size_t>(std::size_t(got_out), room);
        r.out.insert(r.out.end(), buf, buf + k);
        if (k < std::size_t(got_out)) {
          r.out_truncated = true;
          kill_group();
          killed = true;
          break;
        }
      }
    }
    if (i_err >= 0 && p[i_err].revents) {
      ssize_t got_err = ::read(err_fd, buf, sizeof buf);
      if (got_err == 0 || (got_err < 0 && errno != EAGAIN && errno != EINTR)) {
        close_fd(err_fd);
      } else if (got_err > 0) {
        std::size_t k = std::min<std::size_t>(std::size_t(got_err), kChildMaxErr - r.err.size());
        r.err.append(reinterpret_cast<const char*>(buf), k);
      }
    }
    // pidfd readiness is picked up by has_exited() at the top of the loop.
  }
  (void)killed;
  close_fd(in_fd);
  close_fd(out_fd);
  close_fd(err_fd);
  close_fd(pidfd);

  int status = 0;
  pid_t w;
  do w = ::waitpid(pid, &status, 0);
  while (w < 0 && errno == EINTR);
  {
    std::lock_guard lock(g_running_mu);
    g_running.erase(pid);
  }
  if (w == pid) {
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  }
  r.wall_ms = ms_since(t0);
  return r;
}

void kill_running_children() {
  std::lock_guard lock(g_running_mu);
  for (pid_t pgid : g_running) ::kill(-pgid, SIGKILL);
}

}  // namespace verity::worker
