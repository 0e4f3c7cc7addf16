/* Prints the size and field offsets of every struct of libnewrelic.h, one
 * "name value" a line; the test compares them with the library's own. */
#include <stddef.h>
#include <stdio.h>

#include "libnewrelic.h"

#define SIZE(t) printf("sizeof(%s) %zu\n", #t, sizeof(t))
#define OFF(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(t, f))

int main(void) {
  SIZE(newrelic_app_config_t);
  OFF(newrelic_app_config_t, app_name);
  OFF(newrelic_app_config_t, license_key);
  OFF(newrelic_app_config_t, redirect_collector);
  OFF(newrelic_app_config_t, log_filename);
  OFF(newrelic_app_config_t, log_level);
  OFF(newrelic_app_config_t, transaction_tracer);
  OFF(newrelic_app_config_t, datastore_tracer);
  OFF(newrelic_app_config_t, distributed_tracing);
  OFF(newrelic_app_config_t, span_events);
  SIZE(newrelic_transaction_tracer_config_t);
  OFF(newrelic_transaction_tracer_config_t, enabled);
  OFF(newrelic_transaction_tracer_config_t, threshold);
  OFF(newrelic_transaction_tracer_config_t, duration_us);
  OFF(newrelic_transaction_tracer_config_t, stack_trace_threshold_us);
  OFF(newrelic_transaction_tracer_config_t, datastore_reporting);
  OFF(newrelic_transaction_tracer_config_t, datastore_reporting.enabled);
  OFF(newrelic_transaction_tracer_config_t, datastore_reporting.record_sql);
  OFF(newrelic_transaction_tracer_config_t, datastore_reporting.threshold_us);
  SIZE(newrelic_datastore_segment_config_t);
  OFF(newrelic_datastore_segment_config_t, database_name_reporting);
  SIZE(newrelic_distributed_tracing_config_t);
  SIZE(newrelic_span_event_config_t);
  SIZE(newrelic_datastore_segment_params_t);
  OFF(newrelic_datastore_segment_params_t, product);
  OFF(newrelic_datastore_segment_params_t, collection);
  OFF(newrelic_datastore_segment_params_t, operation);
  OFF(newrelic_datastore_segment_params_t, host);
  OFF(newrelic_datastore_segment_params_t, port_path_or_id);
  OFF(newrelic_datastore_segment_params_t, database_name);
  OFF(newrelic_datastore_segment_params_t, query);
  SIZE(newrelic_external_segment_params_t);
  OFF(newrelic_external_segment_params_t, uri);
  OFF(newrelic_external_segment_params_t, procedure);
  OFF(newrelic_external_segment_params_t, library);
  SIZE(newrelic_loglevel_t);
  SIZE(newrelic_tt_recordsql_t);
  SIZE(newrelic_transaction_tracer_threshold_t);
  SIZE(newrelic_time_us_t);
  return 0;
}
