/*
 * Bad input and the less common calls. Every bad call must be refused
 * (false/NULL) without crashing; the good ones build one transaction
 * ("edges") whose harvest the test checks: re-parented and re-timed
 * segments, set_transaction_timing, a JSON payload accepted by a second
 * transaction, a given stack trace, an ignored transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/common.h"

static int failures;

#define EXPECT(cond)                                       \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "line %d: %s\n", __LINE__, #cond);   \
      failures++;                                          \
    }                                                      \
  } while (0)

int main(void) {
  char bad_utf8[] = {'a', (char)0xff, 'b', 0};
  char long_name[600];
  newrelic_app_t* app;
  newrelic_txn_t* txn;
  newrelic_txn_t* other;
  newrelic_segment_t *a, *b, *c, *ds, *ext;
  newrelic_custom_event_t* ev;
  newrelic_app_config_t* cfg;
  newrelic_datastore_segment_params_t dsp;
  newrelic_external_segment_params_t exp;
  char* payload;

  memset(long_name, 'x', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = 0;

  /* Before anything is set up. */
  EXPECT(strcmp(newrelic_version(), "1.3.0") == 0);
  EXPECT(!newrelic_configure_log(NULL, NEWRELIC_LOG_INFO));
  EXPECT(!newrelic_configure_log("stderr", (newrelic_loglevel_t)42));
  EXPECT(!newrelic_create_app_config(NULL, "0123456789012345678901234567890123456789"));
  EXPECT(!newrelic_create_app_config("a", NULL));
  EXPECT(!newrelic_create_app_config("a", "short"));
  EXPECT(!newrelic_create_app_config(bad_utf8, "0123456789012345678901234567890123456789"));
  EXPECT(!newrelic_destroy_app_config(NULL));
  cfg = NULL;
  EXPECT(!newrelic_destroy_app_config(&cfg));
  EXPECT(!newrelic_create_app(NULL, 0));
  EXPECT(!newrelic_destroy_app(NULL));
  EXPECT(!newrelic_start_web_transaction(NULL, "x"));
  EXPECT(!newrelic_start_non_web_transaction(NULL, "x"));
  EXPECT(!newrelic_end_transaction(NULL));
  txn = NULL;
  EXPECT(!newrelic_end_transaction(&txn));
  EXPECT(!newrelic_add_attribute_int(NULL, "k", 1));
  newrelic_notice_error(NULL, 1, "m", "c");
  EXPECT(!newrelic_start_segment(NULL, "n", "c"));
  EXPECT(!newrelic_set_segment_parent(NULL, NULL));
  EXPECT(!newrelic_set_segment_parent_root(NULL));
  EXPECT(!newrelic_set_segment_timing(NULL, 0, 0));
  EXPECT(!newrelic_end_segment(NULL, NULL));
  EXPECT(!newrelic_create_custom_event(NULL));
  newrelic_discard_custom_event(NULL);
  newrelic_record_custom_event(NULL, NULL);
  EXPECT(!newrelic_custom_event_add_attribute_int(NULL, "k", 1));
  EXPECT(!newrelic_record_custom_metric(NULL, "Custom/x", 1.0));
  EXPECT(!newrelic_ignore_transaction(NULL));
  EXPECT(!newrelic_create_distributed_trace_payload(NULL, NULL));
  EXPECT(!newrelic_accept_distributed_trace_payload(NULL, "{}", NULL));
  EXPECT(!newrelic_set_transaction_name(NULL, "x"));
  EXPECT(!newrelic_set_transaction_timing(NULL, 1, 1));

  app = example_app("Seraph C edges");
  if (!app) {
    return 1;
  }
  EXPECT(!newrelic_init(NULL, 0)); /* already initialised */

  /* A config the application cannot use: an unterminated name. */
  cfg = newrelic_create_app_config("x", "0123456789012345678901234567890123456789");
  memset(cfg->app_name, 'y', sizeof(cfg->app_name));
  EXPECT(!newrelic_create_app(cfg, 0));
  EXPECT(newrelic_destroy_app_config(&cfg));
  EXPECT(cfg == NULL);

  /* Wrong handle kinds are refused. */
  EXPECT(!newrelic_start_web_transaction((newrelic_app_t*)long_name, "x"));

  txn = newrelic_start_web_transaction(app, "edges");
  EXPECT(txn != NULL);
  EXPECT(!newrelic_add_attribute_int(txn, NULL, 1));
  EXPECT(!newrelic_add_attribute_int(txn, bad_utf8, 1));
  EXPECT(!newrelic_add_attribute_int(txn, long_name, 1));
  EXPECT(!newrelic_add_attribute_string(txn, "k", NULL));
  EXPECT(!newrelic_add_attribute_string(txn, "k", bad_utf8));
  EXPECT(!newrelic_add_attribute_double(txn, "nan", 0.0 / 0.0));
  EXPECT(newrelic_add_attribute_string(txn, "good", "yes"));
  EXPECT(!newrelic_set_transaction_name(txn, NULL));
  EXPECT(!newrelic_set_transaction_name(txn, long_name));
  EXPECT(!newrelic_set_transaction_name(txn, bad_utf8));
  EXPECT(newrelic_set_transaction_name(txn, "renamed"));
  EXPECT(!newrelic_record_custom_metric(txn, NULL, 1.0));
  EXPECT(!newrelic_record_custom_metric(txn, "Custom/inf", 1.0 / 0.0));
  EXPECT(!newrelic_record_custom_metric(txn, long_name, 1.0));
  EXPECT(newrelic_record_custom_metric(txn, "Custom/Edges/Value", 2.5));
  newrelic_notice_error(txn, 10, NULL, "c");
  newrelic_notice_error(txn, 10, "", "c");
  newrelic_notice_error(txn, 10, "m", bad_utf8);
  newrelic_notice_error_with_stacktrace(txn, 10, "m", "c", "not json");
  newrelic_notice_error_with_stacktrace(txn, 20, "edge error", "EdgeError",
                                        "[\"frame one\",\"frame two\"]");
  newrelic_notice_error(txn, 5, "lower priority", "Ignored");

  /* Segments: a custom one with defaults for bad names. */
  a = newrelic_start_segment(txn, NULL, NULL);
  EXPECT(a != NULL);
  b = newrelic_start_segment(txn, "has/slash", bad_utf8);
  EXPECT(b != NULL);
  c = newrelic_start_segment(txn, "third", "Edge");
  EXPECT(c != NULL);
  EXPECT(!newrelic_set_segment_parent(a, a));
  EXPECT(!newrelic_set_segment_parent(a, c)); /* c descends from a */
  EXPECT(newrelic_set_segment_parent_root(c));
  EXPECT(newrelic_set_segment_parent(c, a));
  EXPECT(newrelic_set_segment_timing(c, 1000, 2000));
  EXPECT(!newrelic_set_segment_timing((newrelic_segment_t*)txn, 0, 0));
  EXPECT(newrelic_end_segment(txn, &c));
  EXPECT(c == NULL);
  EXPECT(newrelic_end_segment(txn, &b));
  EXPECT(newrelic_end_segment(txn, &a));

  /* Datastore and external parameters. */
  EXPECT(!newrelic_start_datastore_segment(txn, NULL));
  memset(&dsp, 0, sizeof(dsp));
  EXPECT(!newrelic_start_datastore_segment(txn, &dsp)); /* no product */
  dsp.product = "Redis";
  dsp.collection = "a/b";
  EXPECT(!newrelic_start_datastore_segment(txn, &dsp));
  dsp.collection = NULL;
  dsp.operation = "get";
  dsp.query = "GET secret";
  ds = newrelic_start_datastore_segment(txn, &dsp);
  EXPECT(ds != NULL);
  EXPECT(newrelic_end_segment(txn, &ds));
  EXPECT(!newrelic_start_external_segment(txn, NULL));
  memset(&exp, 0, sizeof(exp));
  EXPECT(!newrelic_start_external_segment(txn, &exp)); /* no uri */
  exp.uri = "http://ext.example/x";
  exp.library = "a/b";
  EXPECT(!newrelic_start_external_segment(txn, &exp));
  exp.library = NULL;
  ext = newrelic_start_external_segment(txn, &exp);
  EXPECT(ext != NULL);

  /* A segment ended on another transaction is refused (and freed). */
  other = newrelic_start_non_web_transaction(app, "other");
  EXPECT(other != NULL);
  EXPECT(!newrelic_end_segment(other, &ext));
  EXPECT(ext == NULL);

  /* Payload from txn, accepted by the other transaction (JSON form). */
  payload = newrelic_create_distributed_trace_payload(txn, NULL);
  EXPECT(payload != NULL);
  EXPECT(!newrelic_accept_distributed_trace_payload(other, "not a payload", NULL));
  EXPECT(!newrelic_accept_distributed_trace_payload(other, NULL, NULL));
  EXPECT(payload && newrelic_accept_distributed_trace_payload(
                        other, payload, NEWRELIC_TRANSPORT_TYPE_KAFKA));
  free(payload);
  EXPECT(newrelic_end_transaction(&other));

  /* Custom events. */
  ev = newrelic_create_custom_event("Edge Event");
  EXPECT(!newrelic_custom_event_add_attribute_int(ev, NULL, 1));
  EXPECT(!newrelic_custom_event_add_attribute_string(ev, "k", bad_utf8));
  EXPECT(!newrelic_custom_event_add_attribute_double(ev, "nan", 0.0 / 0.0));
  EXPECT(newrelic_custom_event_add_attribute_int(ev, "n", 7));
  newrelic_record_custom_event(txn, &ev);
  EXPECT(ev == NULL);
  ev = newrelic_create_custom_event("Discarded");
  newrelic_discard_custom_event(&ev);
  EXPECT(ev == NULL);
  newrelic_discard_custom_event(&ev);

  /* Timing: 1 s long, starting a minute ago. */
  EXPECT(!newrelic_set_transaction_timing(txn, 0, 5));
  EXPECT(newrelic_set_transaction_timing(txn, (newrelic_time_us_t)1700000000000000ULL, 1000000));
  a = newrelic_start_segment(txn, "never ended", NULL);
  EXPECT(a != NULL);
  EXPECT(newrelic_end_transaction(&txn));
  EXPECT(txn == NULL);
  /* The transaction has ended: its leftover segment is refused. */
  EXPECT(!newrelic_set_segment_timing(a, 1, 1));
  EXPECT(!newrelic_end_segment(NULL, &a)); /* refused, and freed */
  EXPECT(a == NULL);

  /* An ignored transaction sends nothing but ends fine. */
  txn = newrelic_start_non_web_transaction(app, "ignored");
  EXPECT(newrelic_ignore_transaction(txn));
  EXPECT(newrelic_end_transaction(&txn));

  EXPECT(newrelic_destroy_app(&app));
  EXPECT(app == NULL);
  EXPECT(!newrelic_destroy_app(&app));
  printf("api_edges: %d failures\n", failures);
  return failures ? 1 : 0;
}
