<?php
/*DESCRIPTION
Guzzle 7 (Debian's php-guzzlehttp-guzzle) over its curl handlers: a
synchronous request, two concurrent asynchronous ones and a failing one
are each one external segment (library "Guzzle 6", New Relic's name for
Guzzle 6 and 7), never counted again by the curl instrumentation below
them. Each request carried trace headers naming its own span, and the
user's own header; a refused connection has status 0. (Guzzle 7.4 on PHP
8.2 creates a dynamic property, which PHP reports as deprecated: not the
agent's business, so deprecations are off here.)
*/

/*INI
error_reporting = E_ALL & ~E_DEPRECATED
*/

/*EXPECT
sync: traceparent found, X-Test kept
async a: traceparent found, X-Test kept
async b: traceparent found, X-Test kept
refused: GuzzleHttp\Exception\ConnectException
*/

/*EXPECT_METRICS_EXIST
External/all, 4
External/127.0.0.1/all, 4
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_SYNC]",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Guzzle 6"
    },
    {},
    {
      "http.method": "GET",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 200
    }
  ],
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_ASYNC A]",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Guzzle 6"
    },
    {},
    {
      "http.method": "GET",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 200
    }
  ],
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_ASYNC B]",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Guzzle 6"
    },
    {},
    {
      "http.method": "POST",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 200
    }
  ],
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
      "component": "Guzzle 6"
    },
    {},
    {
      "http.method": "GET",
      "http.url": "http://127.0.0.1:1/",
      "http.statusCode": 0
    }
  ]
]
*/

require_once(__DIR__ . '/../include/config.php');
require_once(__DIR__ . '/../include/helpers.php');
require_once('/usr/share/php/GuzzleHttp/autoload.php');

$url = "http://" . make_tracing_url(__DIR__ . '/../include/echo_traceparent.php');

function report($name, $body)
{
    list($traceparent, $xtest) = explode('|', $body);
    $parts = explode('-', $traceparent);
    echo "$name: ", count($parts) == 4 ? "traceparent found" : "no traceparent", ", X-Test $xtest\n";
    env_var_for_expects('SPAN_' . strtoupper($name), $parts[2] ?? '');
}

$client = new GuzzleHttp\Client(['headers' => ['X-Test' => 'kept']]);
report('sync', (string)$client->get($url)->getBody());

$promises = [
    'async a' => $client->getAsync($url),
    'async b' => $client->postAsync($url, ['body' => 'x=1']),
];
foreach (GuzzleHttp\Promise\Utils::unwrap($promises) as $name => $response) {
    report($name, (string)$response->getBody());
}

try {
    $client->get('http://127.0.0.1:1/', ['connect_timeout' => 2]);
} catch (Throwable $e) {
    echo "refused: ", get_class($e), "\n";
}
