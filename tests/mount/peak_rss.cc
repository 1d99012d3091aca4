// peak_rss — runs a program and reports its peak resident set size.
//
//   peak_rss OUT_FILE PROGRAM [ARGS...]
//
// Runs PROGRAM (a path; no PATH search) as a child of this small process,
// writes the child's peak RSS in KiB (wait4's ru_maxrss) to OUT_FILE, and
// exits with the child's exit status (127 if it could not be run, 128 + the
// signal if it was killed). Why a separate process: Linux counts the memory
// image a child had before execve in its ru_maxrss, so a child forked
// straight from a large test process reports at least that process's RSS.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: peak_rss OUT_FILE PROGRAM [ARGS...]\n");
    return 2;
  }
  const pid_t pid = fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    execv(argv[2], argv + 2);
    _exit(127);
  }
  int st = 0;
  struct rusage ru {};
  if (wait4(pid, &st, 0, &ru) != pid) return 127;
  FILE* f = std::fopen(argv[1], "w");
  if (!f || std::fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || std::fclose(f) != 0) return 127;
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 127;
}
