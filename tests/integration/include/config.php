<?php
/*
 * Settings the runner hands to every test through the environment.
 */

$EXTERNAL_HOST = getenv('EXTERNAL_HOST');
$EXTERNAL_TRACING_URL = $EXTERNAL_HOST . "/cat";

/* The URL of the runner's /cat endpoint running $file as a web request. */
function make_tracing_url($file)
{
    global $EXTERNAL_TRACING_URL;
    $dt = ini_get("newrelic.distributed_tracing_enabled") ? "true" : "false";
    $cat = ini_get("newrelic.cross_application_tracer.enabled") ? "true" : "false";
    return $EXTERNAL_TRACING_URL . '?file=' . $file . '&dt_enabled=' . $dt . '&cat_enabled=' . $cat;
}

/* Distributed tracing header names. */
define('DT_NEWRELIC', 'newrelic');
define('DT_TRACEPARENT', 'traceparent');
define('DT_TRACESTATE', 'tracestate');
