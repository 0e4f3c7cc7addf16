/*
 * One transaction, several threads: each thread runs segments of the same
 * transaction, parented to the root (work fanned out from one request), the
 * way the C SDK allows. Exits 0 when every call succeeded.
 */
#include <pthread.h>

#include "../../examples/common.h"

#define THREADS 4
#define SEGMENTS 50

static newrelic_txn_t* txn;

static void* worker(void* arg) {
  long failed = 0;
  int i;
  (void)arg;
  for (i = 0; i < SEGMENTS; i++) {
    newrelic_segment_t* seg = newrelic_start_segment(txn, "part", "Fanout");
    if (!seg || !newrelic_set_segment_parent_root(seg)) {
      failed++;
    }
    if (!newrelic_add_attribute_int(txn, "last", i)) {
      failed++;
    }
    if (!newrelic_end_segment(txn, &seg)) {
      failed++;
    }
  }
  return (void*)failed;
}

int main(void) {
  newrelic_app_t* app = example_app("Seraph C shared transaction");
  pthread_t tid[THREADS];
  long failed = 0;
  int t;

  if (!app) {
    return 1;
  }
  txn = newrelic_start_web_transaction(app, "fanout");
  for (t = 0; t < THREADS; t++) {
    pthread_create(&tid[t], NULL, worker, NULL);
  }
  for (t = 0; t < THREADS; t++) {
    void* r;
    pthread_join(tid[t], &r);
    failed += (long)r;
  }
  failed += !newrelic_end_transaction(&txn);
  newrelic_destroy_app(&app);
  printf("shared_txn: %ld failures\n", failed);
  return failed ? 1 : 0;
}
