/* berth-dynprobe: a dynamically linked program of the node, run inside containers to show
 * that glibc's fall-backs work under the default seccomp profile: pthread_create and
 * posix_spawn try clone3 first (ENOSYS in a container) and fall back to clone; faccessat
 * with flags and close_range go through their own syscalls. Prints one line per check. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static void* Thread(void* arg) {
  *(int*)arg = 42;
  return NULL;
}

int main(int argc, char** argv_in) {
  /* The child posix_spawn starts: done at once. */
  if (argc > 0 && strcmp(argv_in[0], "/dynprobe-true") == 0) return 0;
  int value = 0;
  pthread_t t;
  int rc = pthread_create(&t, NULL, Thread, &value);
  if (rc == 0) pthread_join(t, NULL);
  printf("thread=%s\n", rc == 0 && value == 42 ? "ok" : strerror(rc));

  pid_t pid;
  char* argv[] = {"/dynprobe-true", NULL};
  rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
  int status = -1;
  if (rc == 0) waitpid(pid, &status, 0);
  printf("spawn=%s\n", rc == 0 ? "ok" : strerror(rc));

  printf("faccessat=%s\n", faccessat(AT_FDCWD, "/", R_OK, AT_EACCESS) == 0 ? "ok" : strerror(errno));
  printf("close_range=%s\n", close_range(100, 200, 0) == 0 ? "ok" : strerror(errno));
  return 0;
}
