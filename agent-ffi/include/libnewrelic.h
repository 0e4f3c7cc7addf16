/*
 * libnewrelic.h: Seraph's C agent library, a drop-in for New Relic's C SDK
 * 1.3.
 *
 * Every type, constant and function below has the name, type and memory
 * layout of the C SDK 1.3 header, so a program written against that SDK
 * compiles and links against this library unchanged. The library reports
 * through the same newrelic-daemon as Seraph's PHP extension.
 *
 * Threads: an application (newrelic_app_t) may be used from any number of
 * threads at once, each running its own transactions. One transaction and
 * its segments may also be used from several threads (each call locks the
 * transaction), although a transaction normally lives on one thread.
 *
 * Bad input never crashes the program: NULL pointers, strings that are not
 * UTF-8 and names that are too long are logged and refused (the call returns
 * false or NULL). Nothing blocks longer than its deadline.
 *
 * See docs/agent-ffi.md for building, linking, and the data each call
 * produces.
 */
#ifndef LIBNEWRELIC_H
#define LIBNEWRELIC_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Datastore products whose queries the library can obfuscate: with one of
 * these as the product of a datastore segment, its query may be reported
 * (see newrelic_tt_recordsql_t).
 */
#define NEWRELIC_DATASTORE_FIREBIRD "Firebird"
#define NEWRELIC_DATASTORE_INFORMIX "Informix"
#define NEWRELIC_DATASTORE_MSSQL "MSSQL"
#define NEWRELIC_DATASTORE_MYSQL "MySQL"
#define NEWRELIC_DATASTORE_ORACLE "Oracle"
#define NEWRELIC_DATASTORE_POSTGRES "Postgres"
#define NEWRELIC_DATASTORE_SQLITE "SQLite"
#define NEWRELIC_DATASTORE_SYBASE "Sybase"

/*
 * Datastore products without query support: the query of such a segment is
 * never reported.
 */
#define NEWRELIC_DATASTORE_MEMCACHE "Memcached"
#define NEWRELIC_DATASTORE_MONGODB "MongoDB"
#define NEWRELIC_DATASTORE_ODBC "ODBC"
#define NEWRELIC_DATASTORE_REDIS "Redis"
#define NEWRELIC_DATASTORE_OTHER "Other"

/*
 * How a distributed trace payload travelled between two services
 * (newrelic_accept_distributed_trace_payload()). The names are shared by
 * every New Relic agent, and the UI groups traces by them.
 */
#define NEWRELIC_TRANSPORT_TYPE_UNKNOWN "Unknown"
#define NEWRELIC_TRANSPORT_TYPE_HTTP "HTTP"
#define NEWRELIC_TRANSPORT_TYPE_HTTPS "HTTPS"
#define NEWRELIC_TRANSPORT_TYPE_KAFKA "Kafka"
#define NEWRELIC_TRANSPORT_TYPE_JMS "JMS"
#define NEWRELIC_TRANSPORT_TYPE_IRONMQ "IronMQ"
#define NEWRELIC_TRANSPORT_TYPE_AMQP "AMQP"
#define NEWRELIC_TRANSPORT_TYPE_QUEUE "Queue"
#define NEWRELIC_TRANSPORT_TYPE_OTHER "Other"

/* An application connected through the daemon (newrelic_create_app()). */
typedef struct _nr_app_and_info_t newrelic_app_t;

/* A running transaction (newrelic_start_web_transaction(),
 * newrelic_start_non_web_transaction()). */
typedef struct _newrelic_txn_t newrelic_txn_t;

/* A duration or a point in time, in microseconds. */
typedef uint64_t newrelic_time_us_t;

/* How much the library logs; each level includes the ones above it. */
typedef enum _newrelic_loglevel_t {
  /* Errors only. */
  NEWRELIC_LOG_ERROR,
  /* Warnings and errors. */
  NEWRELIC_LOG_WARNING,
  /* Informational messages, warnings and errors (the default). */
  NEWRELIC_LOG_INFO,
  /* Everything, including per-call detail. */
  NEWRELIC_LOG_DEBUG,
} newrelic_loglevel_t;

/* What happens to the query of a datastore segment of a supported SQL
 * product in transaction traces and slow queries. */
typedef enum _newrelic_tt_recordsql_t {
  /* Queries are never reported. */
  NEWRELIC_SQL_OFF,
  /* Queries are reported as given (not recommended: they may hold
   * personal data). */
  NEWRELIC_SQL_RAW,
  /* Queries are reported with their literals replaced by '?' (the
   * default). */
  NEWRELIC_SQL_OBFUSCATED
} newrelic_tt_recordsql_t;

/* Which transactions may become transaction traces. */
typedef enum _newrelic_transaction_tracer_threshold_t {
  /* Those slower than four times the application's apdex T (the
   * default). */
  NEWRELIC_THRESHOLD_IS_APDEX_FAILING,
  /* Those slower than transaction_tracer.duration_us. */
  NEWRELIC_THRESHOLD_IS_OVER_DURATION,
} newrelic_transaction_tracer_threshold_t;

/* Transaction trace settings. */
typedef struct _newrelic_transaction_tracer_config_t {
  /* Whether transaction traces are made at all. Default: true. */
  bool enabled;

  /* Which transactions qualify. Default:
   * NEWRELIC_THRESHOLD_IS_APDEX_FAILING. */
  newrelic_transaction_tracer_threshold_t threshold;

  /* With NEWRELIC_THRESHOLD_IS_OVER_DURATION: the shortest transaction
   * that may be traced. Default: 0. */
  newrelic_time_us_t duration_us;

  /* Datastore segments at least this long carry a stack trace of where
   * they ended. Default: 500000 (half a second). */
  newrelic_time_us_t stack_trace_threshold_us;

  /* Slow query settings. */
  struct {
    /* Whether slow queries are collected (up to ten per transaction).
     * Default: true. */
    bool enabled;

    /* How queries appear in traces and slow queries. Default:
     * NEWRELIC_SQL_OBFUSCATED. */
    newrelic_tt_recordsql_t record_sql;

    /* Queries at least this long are slow. Default: 500000. */
    newrelic_time_us_t threshold_us;
  } datastore_reporting;

} newrelic_transaction_tracer_config_t;

/* Which details of datastore segments are reported. */
typedef struct _newrelic_datastore_segment_config_t {
  /* Report the host and port_path_or_id of each datastore segment.
   * Default: true. */
  bool instance_reporting;

  /* Report the database_name of each datastore segment. Default: true. */
  bool database_name_reporting;

} newrelic_datastore_segment_config_t;

/* Distributed tracing settings. */
typedef struct _newrelic_distributed_tracing_config_t {
  /* Whether distributed tracing is on. Default: false. */
  bool enabled;
} newrelic_distributed_tracing_config_t;

/* Span event settings (span events need distributed tracing too). */
typedef struct _newrelic_span_event_config_t {
  /* Whether span events are made. Default: true. */
  bool enabled;
} newrelic_span_event_config_t;

/* Everything that describes an application: fill it with
 * newrelic_create_app_config(), adjust it, pass it to
 * newrelic_create_app(). */
typedef struct _newrelic_app_config_t {
  /* The application's name (several names separated by ';'). */
  char app_name[255];

  /* The New Relic license key (40 characters). */
  char license_key[255];

  /* The collector host the daemon connects this application to; empty
   * for New Relic's default. */
  char redirect_collector[100];

  /* A log file for this library; empty for none. */
  char log_filename[512];

  /* The log file's level. Default: NEWRELIC_LOG_INFO. */
  newrelic_loglevel_t log_level;

  /* Transaction trace settings. */
  newrelic_transaction_tracer_config_t transaction_tracer;

  /* Datastore segment settings. */
  newrelic_datastore_segment_config_t datastore_tracer;

  /* Distributed tracing settings. */
  newrelic_distributed_tracing_config_t distributed_tracing;

  /* Span event settings. */
  newrelic_span_event_config_t span_events;

} newrelic_app_config_t;

/* Describes a call to a database or an object store
 * (newrelic_start_datastore_segment()). Strings are copied. */
typedef struct _newrelic_datastore_segment_params_t {
  /* Required: the product, ideally one of the NEWRELIC_DATASTORE_*
   * constants; no '/'. An empty string becomes NEWRELIC_DATASTORE_OTHER. */
  char* product;

  /* The table or collection; no '/'. NULL for "other". */
  char* collection;

  /* The operation ("select", "set", ...); no '/'. NULL for "other". */
  char* operation;

  /* The server's host name; no '/'. NULL for "unknown". */
  char* host;

  /* The port, socket path or other id of the server. NULL for
   * "unknown". */
  char* port_path_or_id;

  /* The database name or number. NULL for "unknown". */
  char* database_name;

  /* The query. Only reported for the SQL products above, as
   * transaction_tracer.datastore_reporting.record_sql says. */
  char* query;
} newrelic_datastore_segment_params_t;

/* Describes a call to another service (newrelic_start_external_segment()).
 * Strings are copied. */
typedef struct _newrelic_external_segment_params_t {
  /* Required: the URI called. Its host names the segment's metrics. */
  char* uri;

  /* How it was called ("GET", "POST", an RPC name); no '/'. May be
   * NULL. */
  char* procedure;

  /* What made the call ("curl", "grpc"); no '/'. May be NULL. */
  char* library;
} newrelic_external_segment_params_t;

/*
 * Sets where this library logs and how much. filename is a path, or
 * "stdout" or "stderr". A later call replaces the earlier destination.
 * Without any call, newrelic_init() logs to stderr at NEWRELIC_LOG_INFO.
 * Returns false for a NULL filename, an unknown level or a file that cannot
 * be opened.
 */
bool newrelic_configure_log(const char* filename, newrelic_loglevel_t level);

/*
 * Sets the daemon's address and checks that the daemon answers there.
 * daemon_socket: an absolute path (Unix socket), "@name" (abstract socket),
 * a port number 1-65534 (TCP on localhost) or "host:port"; NULL for
 * "/tmp/.newrelic.sock". time_limit_ms: how long to wait for the daemon
 * (0: 10 ms). Optional: newrelic_create_app() initialises with the defaults
 * if this was not called. Returns false if the address is unusable, the
 * daemon does not answer, or the library was already initialised.
 */
bool newrelic_init(const char* daemon_socket, int time_limit_ms);

/*
 * Allocates a configuration holding app_name and license_key and every
 * other field at its default. Returns NULL for a NULL name or a license key
 * that is not 40 characters long. Free it with newrelic_destroy_app_config().
 */
newrelic_app_config_t* newrelic_create_app_config(const char* app_name,
                                                  const char* license_key);

/*
 * Frees a configuration and sets *config to NULL. Returns false if config
 * or *config is NULL.
 */
bool newrelic_destroy_app_config(newrelic_app_config_t** config);

/*
 * Connects an application through the daemon: sends the App query and, as
 * long as the daemon says the application is not connected yet, asks again
 * every 50 ms until timeout_ms have passed (0: ask once). The configuration
 * is copied. Returns NULL if the configuration is invalid or the application
 * did not connect in time. Free it with newrelic_destroy_app().
 */
newrelic_app_t* newrelic_create_app(const newrelic_app_config_t* config,
                                    unsigned short timeout_ms);

/*
 * Frees an application and sets *app to NULL. Transactions still running
 * keep what they need and can still be ended. Returns false if app or *app
 * is NULL.
 */
bool newrelic_destroy_app(newrelic_app_t** app);

/*
 * Starts a web transaction named "WebTransaction/Action/<name>" (NULL
 * name: "NULL"). Returns NULL if app is NULL or not connected.
 */
newrelic_txn_t* newrelic_start_web_transaction(newrelic_app_t* app,
                                               const char* name);

/*
 * Starts a background transaction named "OtherTransaction/Action/<name>"
 * (NULL name: "NULL"). Returns NULL if app is NULL or not connected.
 */
newrelic_txn_t* newrelic_start_non_web_transaction(newrelic_app_t* app,
                                                   const char* name);

/*
 * Replaces the measured timing of a transaction: it started at start_time
 * (microseconds since the Unix epoch) and lasted duration microseconds.
 * Segment times stay relative to the transaction's start. Returns false
 * for a NULL transaction or a start_time of 0.
 */
bool newrelic_set_transaction_timing(newrelic_txn_t* transaction,
                                     newrelic_time_us_t start_time,
                                     newrelic_time_us_t duration);

/*
 * Ends a transaction: its data is built and written to the daemon (with a
 * 500 ms deadline), the transaction is freed and *transaction_ptr set to
 * NULL. Segments still open are dropped. Returns false if the pointer is
 * NULL or the data could not be sent; an ignored transaction returns true.
 */
bool newrelic_end_transaction(newrelic_txn_t** transaction_ptr);

/*
 * Adds a user attribute to the transaction's event, trace and error.
 * Keys are at most 255 bytes, string values are cut to 255 bytes, and a
 * transaction keeps at most 64 user attributes. Returns false if refused.
 */
bool newrelic_add_attribute_int(newrelic_txn_t* transaction,
                                const char* key,
                                const int value);

/* As newrelic_add_attribute_int(), with a long value. */
bool newrelic_add_attribute_long(newrelic_txn_t* transaction,
                                 const char* key,
                                 const long value);

/* As newrelic_add_attribute_int(), with a double value (NaN and
 * infinities are refused). */
bool newrelic_add_attribute_double(newrelic_txn_t* transaction,
                                   const char* key,
                                   const double value);

/* As newrelic_add_attribute_int(), with a string value. */
bool newrelic_add_attribute_string(newrelic_txn_t* transaction,
                                   const char* key,
                                   const char* value);

/*
 * Records an error on the transaction: one error trace and one error event
 * per transaction, the one with the highest priority (a later error of
 * equal priority replaces an earlier one). The stack trace is the caller's
 * backtrace. errmsg and errclass must be non-empty.
 */
void newrelic_notice_error(newrelic_txn_t* transaction,
                           int priority,
                           const char* errmsg,
                           const char* errclass);

/*
 * As newrelic_notice_error(), with the stack trace given as a JSON array of
 * strings, such as "[\"frame 1\",\"frame 2\"]".
 */
void newrelic_notice_error_with_stacktrace(newrelic_txn_t* transaction,
                                           int priority,
                                           const char* errmsg,
                                           const char* errclass,
                                           const char* errstacktrace);

/* A timed piece of a transaction (custom, datastore or external). Every
 * segment must be ended with newrelic_end_segment(). */
typedef struct _newrelic_segment_t newrelic_segment_t;

/* A custom event, recorded with newrelic_record_custom_event(). */
typedef struct _newrelic_custom_event_t newrelic_custom_event_t;

/*
 * Starts a segment named "<category>/<name>", a child of the segment most
 * recently started and not yet ended on this transaction (or of the
 * transaction's root). A NULL name or one containing '/' becomes
 * "Unnamed Segment"; a NULL category or one containing '/' becomes
 * "Custom". Its metric is scoped to the transaction. Returns NULL on error.
 */
newrelic_segment_t* newrelic_start_segment(newrelic_txn_t* transaction,
                                           const char* name,
                                           const char* category);

/*
 * Starts a datastore segment described by params (copied). Its metrics are
 * Datastore/statement/<product>/<collection>/<operation> (scoped),
 * Datastore/operation/..., Datastore/all and the instance metric. Returns
 * NULL if params or its product is NULL, or a name holds a '/'.
 */
newrelic_segment_t* newrelic_start_datastore_segment(
    newrelic_txn_t* transaction,
    const newrelic_datastore_segment_params_t* params);

/*
 * Starts an external segment described by params (copied). Its metrics are
 * External/<host>/all (scoped), External/all and the web/background
 * rollups. Returns NULL if params or its uri is NULL, or library or
 * procedure holds a '/'.
 */
newrelic_segment_t* newrelic_start_external_segment(
    newrelic_txn_t* transaction,
    const newrelic_external_segment_params_t* params);

/*
 * Makes parent the parent of segment. Both must belong to the same
 * transaction and not have ended, and parent must not be segment or one of
 * its descendants. Returns false otherwise.
 */
bool newrelic_set_segment_parent(newrelic_segment_t* segment,
                                 newrelic_segment_t* parent);

/*
 * Makes the transaction's root segment the parent of segment (for work
 * that runs beside the code that started it). Returns false for a NULL or
 * ended segment.
 */
bool newrelic_set_segment_parent_root(newrelic_segment_t* segment);

/*
 * Replaces the measured timing of a segment: it started start_time
 * microseconds after the transaction started and lasted duration
 * microseconds. Returns false for a NULL or ended segment.
 */
bool newrelic_set_segment_timing(newrelic_segment_t* segment,
                                 newrelic_time_us_t start_time,
                                 newrelic_time_us_t duration);

/*
 * Ends a segment of transaction, frees it and sets *segment_ptr to NULL.
 * Returns false if a pointer is NULL or the segment belongs to another
 * transaction (it is freed all the same).
 */
bool newrelic_end_segment(newrelic_txn_t* transaction,
                          newrelic_segment_t** segment_ptr);

/*
 * Allocates a custom event of type event_type (letters, digits, ':', '_'
 * and ' ', at most 255 bytes; checked when it is recorded). Returns NULL
 * for a NULL type. Record it with newrelic_record_custom_event() or free it
 * with newrelic_discard_custom_event().
 */
newrelic_custom_event_t* newrelic_create_custom_event(const char* event_type);

/* Frees a custom event that will not be recorded; sets *event to NULL. */
void newrelic_discard_custom_event(newrelic_custom_event_t** event);

/*
 * Records a custom event on the transaction, timestamped now; it is sent
 * with the transaction. The event is freed and *event set to NULL.
 */
void newrelic_record_custom_event(newrelic_txn_t* transaction,
                                  newrelic_custom_event_t** event);

/* Adds an int attribute to a custom event (at most 64 attributes; keys at
 * most 255 bytes). Returns false if refused. */
bool newrelic_custom_event_add_attribute_int(newrelic_custom_event_t* event,
                                             const char* key,
                                             int value);

/* As newrelic_custom_event_add_attribute_int(), with a long value. */
bool newrelic_custom_event_add_attribute_long(newrelic_custom_event_t* event,
                                              const char* key,
                                              long value);

/* As newrelic_custom_event_add_attribute_int(), with a double value. */
bool newrelic_custom_event_add_attribute_double(newrelic_custom_event_t* event,
                                                const char* key,
                                                double value);

/* As newrelic_custom_event_add_attribute_int(), with a string value (cut
 * to 255 bytes). */
bool newrelic_custom_event_add_attribute_string(newrelic_custom_event_t* event,
                                                const char* key,
                                                const char* value);

/*
 * The version of the C SDK this library stands in for ("1.3.0"). The
 * string belongs to the library: do not free or modify it.
 */
const char* newrelic_version(void);

/*
 * Records milliseconds as one observation of the unscoped metric
 * metric_name (conventionally "Custom/..."). Returns false for a NULL
 * transaction or name, an empty name, or a value that is not finite.
 */
bool newrelic_record_custom_metric(newrelic_txn_t* transaction,
                                   const char* metric_name,
                                   double milliseconds);

/*
 * Marks the transaction so that nothing of it is sent. It must still be
 * ended with newrelic_end_transaction() to free it.
 */
bool newrelic_ignore_transaction(newrelic_txn_t* transaction);

/*
 * A distributed trace payload (JSON text) for a call made from segment
 * (NULL: from the transaction's root) to another service, which accepts it
 * with newrelic_accept_distributed_trace_payload(). Returns NULL when
 * distributed tracing is off or the application has no account data. The
 * caller frees the string with free().
 */
char* newrelic_create_distributed_trace_payload(newrelic_txn_t* transaction,
                                                newrelic_segment_t* segment);

/*
 * Links this transaction to the caller that created payload (JSON text).
 * transport_type: one of the NEWRELIC_TRANSPORT_TYPE_* names (NULL:
 * "Unknown"). Must come before any payload is created on this transaction,
 * and only once. Returns false if refused.
 */
bool newrelic_accept_distributed_trace_payload(newrelic_txn_t* transaction,
                                               const char* payload,
                                               const char* transport_type);

/*
 * As newrelic_create_distributed_trace_payload(), base64-encoded so that it
 * fits in an HTTP header. The caller frees the string with free().
 */
char* newrelic_create_distributed_trace_payload_httpsafe(
    newrelic_txn_t* transaction,
    newrelic_segment_t* segment);

/*
 * As newrelic_accept_distributed_trace_payload(), for a base64-encoded
 * payload.
 */
bool newrelic_accept_distributed_trace_payload_httpsafe(
    newrelic_txn_t* transaction,
    const char* payload,
    const char* transport_type);

/*
 * Renames the transaction "WebTransaction/Custom/<name>" (or
 * "OtherTransaction/Custom/<name>"). Returns false for a NULL transaction
 * or name.
 */
bool newrelic_set_transaction_name(newrelic_txn_t* transaction,
                                   const char* transaction_name);

#ifdef __cplusplus
}
#endif

#endif /* LIBNEWRELIC_H */
