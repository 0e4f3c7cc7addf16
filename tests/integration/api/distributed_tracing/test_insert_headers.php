<?php
/*DESCRIPTION
newrelic_insert_distributed_trace_headers() fills the array with the
three outbound headers: a W3C traceparent carrying the transaction's trace
id and the root span's id, a tracestate entry for the trusted account,
and the base64 "newrelic" payload with the account and application ids
from the connect reply.
*/

/*EXPECT
ok - insert returns true
ok - three headers
ok - traceparent carries the trace id
ok - tracestate is ours
ok - newrelic payload account and app
ok - newrelic payload type
*/

/*EXPECT_METRICS_EXIST
Supportability/api/insert_distributed_trace_headers, 1
Supportability/TraceContext/Create/Success, 1
Supportability/DistributedTrace/CreatePayload/Success, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

$headers = array();
tap_assert(newrelic_insert_distributed_trace_headers($headers), 'insert returns true');
ksort($headers);
tap_equal(array('newrelic', 'traceparent', 'tracestate'), array_keys($headers), 'three headers');

$meta = newrelic_get_trace_metadata();
$trace_id = str_pad($meta['trace_id'], 32, '0', STR_PAD_LEFT);
tap_assert(
    preg_match('/^00-' . $trace_id . '-[0-9a-f]{16}-0[01]$/', $headers['traceparent']) === 1,
    'traceparent carries the trace id'
);
$trusted = getenv('ACCOUNT_supportability_trusted');
tap_assert(strpos($headers['tracestate'], $trusted . '@nr=0-0-') === 0, 'tracestate is ours');

$payload = json_decode(base64_decode($headers['newrelic']), true);
tap_assert(
    $payload['d']['ac'] === getenv('ACCOUNT_supportability')
    && $payload['d']['ap'] === getenv('APP_supportability'),
    'newrelic payload account and app'
);
tap_equal('App', $payload['d']['ty'], 'newrelic payload type');
