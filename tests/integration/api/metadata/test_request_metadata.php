<?php
/*DESCRIPTION
newrelic_get_request_metadata() returns the headers an outbound request
should carry (the distributed tracing headers here) and is not counted:
New Relic's agent uses it internally.
*/

/*EXPECT
ok - headers
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/api/get_request_metadata
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

$h = newrelic_get_request_metadata();
ksort($h);
tap_identical(array('newrelic', 'traceparent', 'tracestate'), array_keys($h), 'headers');
