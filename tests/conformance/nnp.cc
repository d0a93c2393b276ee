// berth-critest-nnp: the program of critest's nonewprivs image. Installed setuid root and run
// as uid 1000, it prints the effective uid it got: 0 where privileges may rise, 1000 under
// no_new_privs.
#include <stdio.h>
#include <unistd.h>

int main() {
  printf("Effective uid: %d\n", static_cast<int>(geteuid()));
  return 0;
}
