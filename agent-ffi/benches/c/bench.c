/*
 * Times N transactions per thread on T threads and prints the wall and CPU
 * microseconds per transaction. MODE:
 *   ignored  start, ignore, end: the library's bookkeeping, nothing sent
 *   empty    start, end: one small frame written to the daemon
 *   full     start, 2 attributes, a datastore, an external and a custom
 *            segment, a custom event, end
 */
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include "../../examples/common.h"

static newrelic_app_t* app;
static const char* mode;
static int n;

static void one(void) {
  newrelic_txn_t* txn = newrelic_start_non_web_transaction(app, "bench");
  if (strcmp(mode, "ignored") == 0) {
    newrelic_ignore_transaction(txn);
  } else if (strcmp(mode, "full") == 0) {
    newrelic_datastore_segment_params_t ds = {.product = NEWRELIC_DATASTORE_MYSQL,
                                              .collection = "t",
                                              .operation = "select",
                                              .host = "db",
                                              .port_path_or_id = "3306",
                                              .query = "SELECT * FROM t WHERE id = 1"};
    newrelic_external_segment_params_t ext = {
        .uri = "http://svc.example/x", .procedure = "GET", .library = "curl"};
    newrelic_segment_t* s;
    newrelic_custom_event_t* ev;
    newrelic_add_attribute_int(txn, "user", 42);
    newrelic_add_attribute_string(txn, "plan", "gold");
    s = newrelic_start_datastore_segment(txn, &ds);
    newrelic_end_segment(txn, &s);
    s = newrelic_start_external_segment(txn, &ext);
    newrelic_end_segment(txn, &s);
    s = newrelic_start_segment(txn, "render", "View");
    newrelic_end_segment(txn, &s);
    ev = newrelic_create_custom_event("BenchEvent");
    newrelic_custom_event_add_attribute_int(ev, "n", 1);
    newrelic_record_custom_event(txn, &ev);
  }
  newrelic_end_transaction(&txn);
}

static void* worker(void* arg) {
  int i;
  (void)arg;
  for (i = 0; i < n; i++) {
    one();
  }
  return NULL;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

int main(int argc, char** argv) {
  int threads, t;
  pthread_t tid[64];
  double w0, c0;

  if (argc < 4) {
    fprintf(stderr, "usage: %s ignored|empty|full THREADS N\n", argv[0]);
    return 2;
  }
  mode = argv[1];
  threads = atoi(argv[2]);
  n = atoi(argv[3]);
  if (threads < 1 || threads > 64 || n < 1) {
    return 2;
  }
  app = example_app("Seraph C bench");
  if (!app) {
    return 1;
  }
  w0 = now_us();
  c0 = cpu_us();
  for (t = 0; t < threads; t++) {
    pthread_create(&tid[t], NULL, worker, NULL);
  }
  for (t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
  }
  printf("%f %f\n", (now_us() - w0) / (threads * n), (cpu_us() - c0) / (threads * n));
  newrelic_destroy_app(&app);
  return 0;
}
