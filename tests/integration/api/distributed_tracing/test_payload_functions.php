<?php
/*DESCRIPTION
The deprecated payload functions. newrelic_create_distributed_trace_payload()
returns a newrelic\DistributedTracePayload whose text() is the newrelic
payload as JSON (the transaction's trace id, the account and application
of the connect reply) and whose httpSafe() is that JSON in base64; each
call raises an E_DEPRECATED. A payload cannot be accepted after one was
created (the accept-after-create metric).
*/

/*EXPECT
ok - deprecated
ok - object class
ok - payload JSON
ok - httpSafe is base64 of text
ok - text takes no arguments
ok - accept after create refused
*/

/*EXPECT_METRICS_EXIST
Supportability/api/create_distributed_trace_payload, 2
Supportability/api/accept_distributed_trace_payload, 1
Supportability/DistributedTrace/CreatePayload/Success, 2
Supportability/DistributedTrace/AcceptPayload/Ignored/CreateBeforeAccept, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

$payload = @newrelic_create_distributed_trace_payload();
$last = error_get_last();
tap_assert(
    $last !== null && $last['type'] === E_DEPRECATED
        && strpos($last['message'], 'newrelic_create_distributed_trace_payload() is deprecated') !== false,
    'deprecated'
);
tap_identical('newrelic\DistributedTracePayload', get_class($payload), 'object class');
$json = json_decode($payload->text(), true);
$meta = newrelic_get_trace_metadata();
tap_assert(
    $json['v'] === array(0, 1)
        && $json['d']['ty'] === 'App'
        && $json['d']['ac'] === getenv('ACCOUNT_supportability')
        && $json['d']['ap'] === getenv('APP_supportability')
        && $json['d']['tr'] === $meta['trace_id'],
    'payload JSON'
);
$second = @newrelic_create_distributed_trace_payload();
tap_identical(base64_encode($second->text()), $second->httpSafe(), 'httpSafe is base64 of text');
try {
    $payload->text(1);
    tap_not_ok('text takes no arguments');
} catch (ArgumentCountError $e) {
    tap_ok('text takes no arguments');
}
tap_identical(false, @newrelic_accept_distributed_trace_payload($payload->text()), 'accept after create refused');
