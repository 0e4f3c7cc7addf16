<?php
/*DESCRIPTION
curl_multi: each handle is an external segment of its own, grouped under a
curl_multi_exec segment as New Relic's agent groups them; each request
carried trace headers whose span id is its own external span's (the
callee echoes its traceparent), and the user's own header survives. A
handle removed after finishing and then run again with curl_exec is an
ordinary curl_exec call.
*/

/*EXPECT
a: traceparent found, user header kept
b: traceparent found, user header kept
again: traceparent found
*/

/*EXPECT_METRICS_EXIST
External/all, 3
External/127.0.0.1/all, 3
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "curl_multi_exec",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {}
  ],
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_A]",
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
  ],
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "ENV[SPAN_B]",
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
      "http.method": "POST",
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 200
    }
  ]
]
*/

require_once(__DIR__ . '/../include/config.php');
require_once(__DIR__ . '/../include/helpers.php');

$url = "http://" . make_tracing_url(__DIR__ . '/../include/echo_traceparent.php');

function handle($url, $post)
{
    $ch = curl_init($url);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_HTTPHEADER, ['X-Test: kept']);
    if ($post) {
        curl_setopt($ch, CURLOPT_POST, true);
        curl_setopt($ch, CURLOPT_POSTFIELDS, 'x=1');
    }
    return $ch;
}

$a = handle($url, false);
$b = handle($url, true);
$mh = curl_multi_init();
curl_multi_add_handle($mh, $a);
curl_multi_add_handle($mh, $b);
do {
    $status = curl_multi_exec($mh, $running);
    if ($running) {
        curl_multi_select($mh, 1.0);
    }
} while ($running && $status == CURLM_OK);

$spans = [];
foreach (['a' => $a, 'b' => $b] as $name => $ch) {
    list($traceparent, $xtest) = explode('|', curl_multi_getcontent($ch));
    $parts = explode('-', $traceparent);
    echo "$name: ", count($parts) == 4 ? "traceparent found" : "no traceparent",
        $xtest == 'kept' ? ", user header kept" : ", user header lost", "\n";
    env_var_for_expects('SPAN_' . strtoupper($name), $parts[2] ?? '');
}
curl_multi_remove_handle($mh, $a);
curl_multi_remove_handle($mh, $b);
curl_multi_close($mh);

$again = explode('|', curl_exec($a))[0];
echo "again: ", count(explode('-', $again)) == 4 ? "traceparent found" : "no traceparent", "\n";
