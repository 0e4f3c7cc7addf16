/*
 * Distributed tracing between two processes, the called side: accepts the
 * payload its caller passed as its first argument and reports its own
 * transaction as part of the same trace.
 */
#include <unistd.h>

#include "common.h"

int main(int argc, char** argv) {
  newrelic_app_t* app;
  newrelic_txn_t* txn;
  newrelic_segment_t* seg;
  const char* name = getenv("NEW_RELIC_CALLEE_APP_NAME");

  if (argc < 2) {
    fprintf(stderr, "usage: %s PAYLOAD\n", argv[0]);
    return 2;
  }
  if (name && *name) {
    setenv("NEW_RELIC_APP_NAME", name, 1);
  }
  app = example_app("Seraph C backend");
  if (!app) {
    return 1;
  }
  txn = newrelic_start_non_web_transaction(app, "backend");
  if (!newrelic_accept_distributed_trace_payload_httpsafe(
          txn, argv[1], NEWRELIC_TRANSPORT_TYPE_HTTP)) {
    fprintf(stderr, "payload refused\n");
    return 1;
  }
  seg = newrelic_start_segment(txn, "compute", "Backend");
  usleep(5000);
  newrelic_end_segment(txn, &seg);
  if (!newrelic_end_transaction(&txn)) {
    return 1;
  }
  newrelic_destroy_app(&app);
  return 0;
}
