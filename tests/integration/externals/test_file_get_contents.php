<?php
/*DESCRIPTION
file_get_contents and fopen over http: external segments (library
file_get_contents / fopen, method from the context, status unknown: 0),
the trace headers added through the stream context (the default context
when none is given) in front of the user's own header, string or array,
which is put back after the call. A refused connection fails exactly as
without the agent.
*/

/*EXPECT
default: traceparent found, X-Test none
string: traceparent found, X-Test kept
array: traceparent found, X-Test kept
fopen: traceparent found, X-Test kept
header after: X-Test: kept
refused: bool(false)
*/

/*EXPECT_METRICS_EXIST
External/all, 5
External/127.0.0.1/all, 5
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_DEFAULT]",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "file_get_contents"
    },
    {},
    {
      "http.method": "GET",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 0
    }
  ],
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_STRING]",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "file_get_contents"
    },
    {},
    {
      "http.method": "POST",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 0
    }
  ],
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_FOPEN]",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "fopen"
    },
    {},
    {
      "http.method": "POST",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 0
    }
  ]
]
*/

require_once(__DIR__ . '/../include/config.php');
require_once(__DIR__ . '/../include/helpers.php');

$url = "http://" . make_tracing_url(__DIR__ . '/../include/echo_traceparent.php');

function report($name, $body)
{
    list($traceparent, $xtest) = explode('|', $body);
    $parts = explode('-', $traceparent);
    echo "$name: ", count($parts) == 4 ? "traceparent found" : "no traceparent", ", X-Test $xtest\n";
    env_var_for_expects('SPAN_' . strtoupper($name), $parts[2] ?? '');
}

report('default', file_get_contents($url));

$string = stream_context_create(['http' => ['method' => 'POST',
    'header' => "X-Test: kept\r\nContent-Type: application/x-www-form-urlencoded\r\n", 'content' => 'x=1']]);
report('string', file_get_contents($url, false, $string));

$array = stream_context_create(['http' => ['header' => ['X-Test: kept']]]);
report('array', file_get_contents($url, false, $array));

$fp = fopen($url, 'r', false, $string);
report('fopen', stream_get_contents($fp));
fclose($fp);

echo "header after: ", explode("\r\n", stream_context_get_options($string)['http']['header'])[0], "\n";

echo "refused: ";
var_dump(@file_get_contents('http://127.0.0.1:1/'));
