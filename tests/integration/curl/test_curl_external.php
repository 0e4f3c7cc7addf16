<?php
/*DESCRIPTION
curl_exec() to the runner's HTTP server is an external segment: the
External rollups, the per-host metric (scoped and unscoped, host without
port), an http span with the URL without its query string, and the
distributed tracing headers added to the outbound request, which the
callee reports as received. The callee (distributed tracing on, CAT off)
sends no extra response headers.
*/

/*SKIPIF
<?php
if (!extension_loaded('curl')) {
    die("skip: curl not available\n");
}
*/

/*EXPECT
traceparent=found tracestate=found newrelic=found tracing endpoint reached
status=200
*/

/*EXPECT_RESPONSE_HEADERS
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/all"},      [1, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/allOther"}, [1, "??", "??", "??", "??", "??"]],
    [{"name":"External/127.0.0.1/all"},                                    [1, "??", "??", "??", "??", "??"]],
    [{"name":"External/127.0.0.1/all",
      "scope":"OtherTransaction/php__FILE__"},                             [1, "??", "??", "??", "??", "??"]],
    [{"name":"External/all"},                                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"External/allOther"},                                         [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/all"},                                      [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/php__FILE__"},                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime"},                                 [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/php__FILE__"},                     [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/DistributedTrace/CreatePayload/Success"},     [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/TraceContext/Create/Success"},                [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/Logging/Forwarding/PHP/enabled"},             [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Metrics/PHP/enabled"},                [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/LocalDecorating/PHP/disabled"},       [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Labels/PHP/disabled"},                [1, 0, 0, 0, 0, 0]]
  ]
]
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "curl"
    },
    {},
    {
      "http.method": "GET",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 200
    }
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../include/config.php');

$url = "http://" . make_tracing_url(realpath(dirname(__FILE__)) . '/../include/tracing_endpoint.php');
$ch = curl_init($url);
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
$body = curl_exec($ch);
$code = curl_getinfo($ch, CURLINFO_HTTP_CODE);
unset($ch); // curl_close() does nothing since PHP 8.0 and is deprecated in 8.5
echo $body;
echo "status=$code\n";
