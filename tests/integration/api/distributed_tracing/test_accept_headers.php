<?php
/*DESCRIPTION
newrelic_accept_distributed_trace_headers() with W3C headers from a
trusted New Relic account: the transaction joins the inbound trace
(trace id, parent span, priority), the caller metrics name the parent's
account and application and the transport, and the transaction event
carries the parent attributes.
*/

/*EXPECT
ok - accepted
ok - joined the inbound trace
*/

/*EXPECT_METRICS_EXIST
Supportability/api/accept_distributed_trace_headers, 1
Supportability/TraceContext/Accept/Success, 1
Supportability/DistributedTrace/AcceptPayload/Success, 1
DurationByCaller/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/all, 1
DurationByCaller/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/allOther, 1
TransportDuration/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/all, 1
TransportDuration/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/allOther, 1
*/

/*EXPECT_METRICS_DONT_EXIST
DurationByCaller/Unknown/Unknown/Unknown/Unknown/all
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {
        "type": "Transaction",
        "name": "OtherTransaction/php__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "guid": "??",
        "sampled": true,
        "priority": 1.23456,
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "parent.type": "App",
        "parent.app": "ENV[APP_supportability]",
        "parent.account": "ENV[ACCOUNT_supportability]",
        "parent.transportType": "HTTP",
        "parent.transportDuration": "??",
        "parentSpanId": "b7ad6b7169203331",
        "parentId": "e8b91a159289ff74",
        "error": false
      },
      {},
      {}
    ]
  ]
]
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "0af7651916cd43dd8448eb211c80319c",
      "transactionId": "??",
      "name": "OtherTransaction/php__FILE__",
      "timestamp": "??",
      "duration": "??",
      "priority": 1.23456,
      "sampled": true,
      "nr.entryPoint": true,
      "tracingVendors": "other",
      "trustedParentId": "b7ad6b7169203331",
      "parentId": "b7ad6b7169203331",
      "transaction.name": "OtherTransaction/php__FILE__"
    },
    {},
    {
      "parent.type": "App",
      "parent.app": "ENV[APP_supportability]",
      "parent.account": "ENV[ACCOUNT_supportability]",
      "parent.transportType": "HTTP",
      "parent.transportDuration": "??"
    }
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

$account = getenv('ACCOUNT_supportability');
$app = getenv('APP_supportability');
$trusted = getenv('ACCOUNT_supportability_trusted');
$ts = (int)(microtime(true) * 1000) - 1500;
$inbound = array(
    'traceparent' => '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'tracestate'  => "$trusted@nr=0-0-$account-$app-b7ad6b7169203331-e8b91a159289ff74-1-1.23456-$ts,other=foo",
);
tap_assert(newrelic_accept_distributed_trace_headers($inbound, 'HTTP'), 'accepted');
$meta = newrelic_get_trace_metadata();
tap_equal('0af7651916cd43dd8448eb211c80319c', $meta['trace_id'], 'joined the inbound trace');
