/*
 * Shared setup of the examples: the application comes from the environment,
 * so the same binaries run against any daemon.
 *
 *   NEW_RELIC_LICENSE_KEY    the 40-character license key (required)
 *   NEW_RELIC_APP_NAME       the application name (default: per example)
 *   NEW_RELIC_DAEMON_SOCKET  the daemon's address (default /tmp/.newrelic.sock)
 *   NEW_RELIC_HOST           the collector the daemon reports to
 *   NEW_RELIC_LOG            a log file, "stdout" or "stderr" (default: none)
 */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libnewrelic.h"

static newrelic_app_t* example_app(const char* default_name) {
  const char* license = getenv("NEW_RELIC_LICENSE_KEY");
  const char* name = getenv("NEW_RELIC_APP_NAME");
  const char* host = getenv("NEW_RELIC_HOST");
  const char* log = getenv("NEW_RELIC_LOG");
  newrelic_app_config_t* config;
  newrelic_app_t* app;

  if (log && *log) {
    newrelic_configure_log(log, NEWRELIC_LOG_DEBUG);
  }
  if (!newrelic_init(getenv("NEW_RELIC_DAEMON_SOCKET"), 1000)) {
    fprintf(stderr, "newrelic_init failed: is the daemon running?\n");
    return NULL;
  }
  config = newrelic_create_app_config(name && *name ? name : default_name,
                                      license ? license : "");
  if (!config) {
    fprintf(stderr, "set NEW_RELIC_LICENSE_KEY to a 40-character key\n");
    return NULL;
  }
  if (host && *host) {
    snprintf(config->redirect_collector, sizeof(config->redirect_collector),
             "%s", host);
  }
  config->distributed_tracing.enabled = true;
  config->transaction_tracer.threshold = NEWRELIC_THRESHOLD_IS_OVER_DURATION;
  config->transaction_tracer.duration_us = 1;
  config->transaction_tracer.datastore_reporting.threshold_us = 1000;

  /* Wait up to 10 s for the daemon to connect the application. */
  app = newrelic_create_app(config, 10000);
  newrelic_destroy_app_config(&config);
  if (!app) {
    fprintf(stderr, "the application did not connect\n");
  }
  return app;
}

#endif /* EXAMPLES_COMMON_H */
