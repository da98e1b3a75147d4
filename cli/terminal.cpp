#include "cli/terminal.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>

namespace verity::cli {

namespace {
// The terminal whose echo a prompt turned off, so that Ctrl-C at the prompt
// turns it back on before the signal ends the process.
volatile sig_atomic_t g_quiet_tty = -1;
struct termios g_tty_before {};

extern "C" void restore_tty_and_reraise(int sig) {
  if (g_quiet_tty >= 0) ::tcsetattr(g_quiet_tty, TCSAFLUSH, &g_tty_before);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

std::optional<std::string> prompt_secret(const std::string& text) {
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct termios old {};
  if (::tcgetattr(fd, &old) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  struct termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  g_tty_before = old;
  g_quiet_tty = fd;
  struct sigaction restore {}, saved[3];
  restore.sa_handler = restore_tty_and_reraise;
  const int signals[3] = {SIGINT, SIGTERM, SIGQUIT};
  for (int i = 0; i < 3; ++i) ::sigaction(signals[i], &restore, &saved[i]);
  // Echo off first (dropping type-ahead), then the prompt: what is typed
  // after the prompt appears is never echoed nor discarded.
  ::tcsetattr(fd, TCSAFLUSH, &quiet);
  (void)!::write(fd, text.data(), text.size());
  std::string line;
  char c;
  bool got = false;
  while (::read(fd, &c, 1) == 1) {
    got = true;
    if (c == '\n') break;
    line.push_back(c);
  }
  ::tcsetattr(fd, TCSANOW, &old);
  g_quiet_tty = -1;
  for (int i = 0; i < 3; ++i) ::sigaction(signals[i], &saved[i], nullptr);
  ::close(fd);
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace verity::cli
