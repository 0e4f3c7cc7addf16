<?php
/*DESCRIPTION
newrelic_accept_distributed_trace_payload() (JSON text) and its
_httpsafe twin (base64) accept a newrelic payload from a trusted account
and count under one name; the transport type given is used. Bad
arguments: none is an ArgumentCountError; an untrusted account is
refused.
*/

/*INI
error_reporting = E_ALL & ~E_DEPRECATED
*/

/*EXPECT
ok - no args
ok - untrusted refused
ok - accepted
ok - second refused
*/

/*EXPECT_METRICS_EXIST
Supportability/api/accept_distributed_trace_payload, 4
Supportability/DistributedTrace/AcceptPayload/Ignored/UntrustedAccount, 1
Supportability/DistributedTrace/AcceptPayload/Success, 1
TransportDuration/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/Kafka/all, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

function payload($trusted)
{
    return json_encode(array(
        'v' => array(0, 1),
        'd' => array(
            'ty' => 'App',
            'ac' => getenv('ACCOUNT_supportability'),
            'ap' => getenv('APP_supportability'),
            'id' => '27856f70d3d314b7',
            'tx' => '3221bf09aa0bcf0d',
            'tr' => '3221bf09aa0bcf0d',
            'pr' => 0.1234,
            'sa' => false,
            'ti' => (int)(microtime(true) * 1000),
            'tk' => $trusted,
        ),
    ));
}

try {
    newrelic_accept_distributed_trace_payload();
    tap_not_ok('no args');
} catch (ArgumentCountError $e) {
    tap_ok('no args');
}
tap_identical(false, newrelic_accept_distributed_trace_payload(payload('untrusted')), 'untrusted refused');
$good = base64_encode(payload(getenv('ACCOUNT_supportability_trusted')));
tap_identical(true, newrelic_accept_distributed_trace_payload_httpsafe($good, 'Kafka'), 'accepted');
tap_identical(false, newrelic_accept_distributed_trace_payload_httpsafe($good), 'second refused');
