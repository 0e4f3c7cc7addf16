/*
 * Distributed tracing between two processes, the calling side: a web
 * transaction makes an external call to dt_callee, passing the trace
 * payload on its command line (where a real service would send it in an
 * HTTP header).
 *
 *   ./dt_caller ./dt_callee
 */
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char** argv) {
  newrelic_app_t* app;
  newrelic_txn_t* txn;
  newrelic_segment_t* ext;
  char* payload;
  int status = 1;
  pid_t pid;

  if (argc < 2) {
    fprintf(stderr, "usage: %s path/to/dt_callee\n", argv[0]);
    return 2;
  }
  app = example_app("Seraph C frontend");
  if (!app) {
    return 1;
  }
  txn = newrelic_start_web_transaction(app, "frontend");
  {
    newrelic_external_segment_params_t params = {
        .uri = "http://backend.example/work", .procedure = "GET", .library = "exec"};
    ext = newrelic_start_external_segment(txn, &params);
  }
  payload = newrelic_create_distributed_trace_payload_httpsafe(txn, ext);
  if (!payload) {
    fprintf(stderr, "no payload\n");
    return 1;
  }
  pid = fork();
  if (pid == 0) {
    execl(argv[1], argv[1], payload, (char*)NULL);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  free(payload);
  newrelic_end_segment(txn, &ext);
  if (!newrelic_end_transaction(&txn)) {
    return 1;
  }
  newrelic_destroy_app(&app);
  printf("dt_caller: callee exited with %d\n", WEXITSTATUS(status));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
