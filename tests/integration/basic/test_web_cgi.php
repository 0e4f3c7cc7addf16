<?php
/*DESCRIPTION
A GET request served by php-cgi is a web transaction named after the
script: WebTransaction/Uri/<script>, with HttpDispatcher, Apdex (a fast
request is satisfying) and the request and response attributes on the
transaction event and the root span.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*HEADERS
Accept=text/html
*/

/*EXPECT
web ok
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"Apdex"},                                                   [1, 0, 0, 0.5, 0.5, 0]],
    [{"name":"Apdex/Uri__FILE__"},                                       [1, 0, 0, 0.5, 0.5, 0]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/all"},    [1, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/allWeb"}, [1, "??", "??", "??", "??", "??"]],
    [{"name":"HttpDispatcher"},                                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"WebTransaction"},                                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"WebTransaction/Uri__FILE__"},                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"WebTransactionTotalTime"},                                 [1, "??", "??", "??", "??", "??"]],
    [{"name":"WebTransactionTotalTime/Uri__FILE__"},                     [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/Logging/Forwarding/PHP/enabled"},           [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Metrics/PHP/enabled"},              [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/LocalDecorating/PHP/disabled"},     [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Labels/PHP/disabled"},              [1, 0, 0, 0, 0, 0]]
  ]
]
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {
        "type": "Transaction",
        "name": "WebTransaction/Uri__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "nr.apdexPerfZone": "S",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "error": false
      },
      {},
      {
        "response.headers.contentType": "text/html",
        "http.statusCode": 200,
        "response.statusCode": 200,
        "httpResponseCode": "200",
        "request.uri": "__FILE__",
        "request.method": "GET",
        "request.headers.host": "127.0.0.1",
        "request.headers.accept": "text/html"
      }
    ]
  ]
]
*/

/*EXPECT_SPAN_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 10000, "events_seen": 1},
  [
    [
      {
        "category": "generic",
        "type": "Span",
        "guid": "??",
        "traceId": "??",
        "transactionId": "??",
        "name": "WebTransaction/Uri__FILE__",
        "timestamp": "??",
        "duration": "??",
        "priority": "??",
        "sampled": true,
        "nr.entryPoint": true,
        "transaction.name": "WebTransaction/Uri__FILE__"
      },
      {},
      {
        "response.headers.contentType": "text/html",
        "http.statusCode": 200,
        "response.statusCode": 200,
        "httpResponseCode": "200",
        "request.uri": "__FILE__",
        "request.method": "GET",
        "request.headers.host": "127.0.0.1",
        "request.headers.accept": "text/html"
      }
    ]
  ]
]
*/

/*EXPECT_TRACED_ERRORS null*/

/*EXPECT_ERROR_EVENTS null*/

echo "web ok\n";
