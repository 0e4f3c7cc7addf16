<?php
/*DESCRIPTION
newrelic_accept_distributed_trace_headers() with bad input: no argument
is an ArgumentCountError, a string a TypeError, an empty array and a
malformed traceparent are refused (false, with the parse metric), keys of
any case and with an HTTP_ prefix are read, and a second accept is
refused after the first succeeds.
*/

/*EXPECT
ok - no args
ok - not an array
ok - empty array
ok - malformed traceparent
ok - CGI-style key accepted
ok - second accept refused
*/

/*EXPECT_METRICS_EXIST
Supportability/api/accept_distributed_trace_headers, 6
Supportability/TraceContext/TraceParent/Parse/Exception, 1
Supportability/DistributedTrace/AcceptPayload/Success, 1
Supportability/DistributedTrace/AcceptPayload/Ignored/Multiple, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

try {
    newrelic_accept_distributed_trace_headers();
    tap_not_ok('no args');
} catch (ArgumentCountError $e) {
    tap_ok('no args');
}
try {
    newrelic_accept_distributed_trace_headers('traceparent');
    tap_not_ok('not an array');
} catch (TypeError $e) {
    tap_ok('not an array');
}
tap_identical(false, newrelic_accept_distributed_trace_headers(array()), 'empty array');
tap_identical(
    false,
    newrelic_accept_distributed_trace_headers(array('traceparent' => 'garbage')),
    'malformed traceparent'
);
$good = array('HTTP_TRACEPARENT' => '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
tap_identical(true, newrelic_accept_distributed_trace_headers($good), 'CGI-style key accepted');
tap_identical(false, newrelic_accept_distributed_trace_headers($good), 'second accept refused');
