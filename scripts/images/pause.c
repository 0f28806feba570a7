/* kaas-pause: the process that holds a pod's namespaces (the "pause" container). It does
 * nothing but wait: it exits on SIGINT or SIGTERM and, being PID 1 of the pod when the pod
 * shares its process namespace, reaps every child that is handed to it. Built static by
 * scripts/build-kubernetes.sh, because no registry with Kubernetes' own pause image is
 * reachable; packed as an image there (scripts/images/make-image.py). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("kaas-pause");
    return 0;
  }
  if (getpid() != 1) fprintf(stderr, "kaas-pause: not PID 1 (still waiting)\n");
  struct sigaction stop = {0};
  stop.sa_handler = on_stop;
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGTERM, &stop, NULL);
  struct sigaction child = {0};
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &child, NULL);
  for (;;) pause();
}
