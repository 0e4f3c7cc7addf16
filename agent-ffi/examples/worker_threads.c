/*
 * A multi-threaded worker: THREADS threads each run JOBS background
 * transactions on one shared application.
 *
 *   cc worker_threads.c -I<prefix>/include -L<prefix>/lib -lnewrelic -pthread
 *   ./a.out [threads] [jobs per thread]
 */
#include <pthread.h>

#include "common.h"

static newrelic_app_t* app;
static int jobs = 100;

static void* worker(void* arg) {
  long id = (long)arg;
  long failed = 0;
  int i;

  for (i = 0; i < jobs; i++) {
    newrelic_txn_t* txn = newrelic_start_non_web_transaction(app, "job");
    newrelic_segment_t* seg;

    if (!txn) {
      failed++;
      continue;
    }
    newrelic_add_attribute_int(txn, "worker", (int)id);
    newrelic_add_attribute_int(txn, "job", i);
    seg = newrelic_start_segment(txn, "work", "Worker");
    if (!seg || !newrelic_end_segment(txn, &seg)) {
      failed++;
    }
    if (!newrelic_end_transaction(&txn)) {
      failed++;
    }
  }
  return (void*)failed;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  pthread_t tid[256];
  long failed = 0;
  int t;

  jobs = argc > 2 ? atoi(argv[2]) : 100;
  if (threads < 1 || threads > 256 || jobs < 1) {
    fprintf(stderr, "usage: %s [threads 1-256] [jobs per thread]\n", argv[0]);
    return 2;
  }
  app = example_app("Seraph C worker");
  if (!app) {
    return 1;
  }
  for (t = 0; t < threads; t++) {
    pthread_create(&tid[t], NULL, worker, (void*)(long)t);
  }
  for (t = 0; t < threads; t++) {
    void* r;
    pthread_join(tid[t], &r);
    failed += (long)r;
  }
  newrelic_destroy_app(&app);
  printf("worker_threads: %d transactions, %ld failures\n", threads * jobs,
         failed);
  return failed ? 1 : 0;
}
