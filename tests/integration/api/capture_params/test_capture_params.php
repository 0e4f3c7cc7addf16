<?php
/*DESCRIPTION
newrelic_capture_params() turns request parameter capture on for the rest
of the request: the query string's parameters become
request.parameters.* agent attributes of the error trace (and the
transaction trace), not of the transaction event.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
QUERY_STRING=color=blue&size=9
*/

/*EXPECT
ok - returns null
*/

/*EXPECT_METRICS_EXIST
Supportability/api/capture_params, 1
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "WebTransaction/Uri__FILE__",
      "forced",
      "NoticedError",
      {
        "stack_trace": "??",
        "agentAttributes": {
          "request.parameters.size": "9",
          "request.parameters.color": "blue",
          "response.headers.contentType": "??",
          "response.statusCode": 200,
          "http.statusCode": 200,
          "httpResponseCode": "200",
          "request.uri": "??",
          "request.method": "GET",
          "request.headers.host": "??"
        },
        "intrinsics": "??",
        "request_uri": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      "??",
      {},
      {
        "errorType": "NoticedError",
        "errorMessage": "forced",
        "response.headers.contentType": "??",
        "response.statusCode": 200,
        "http.statusCode": 200,
        "httpResponseCode": "200",
        "request.uri": "??",
        "request.method": "GET",
        "request.headers.host": "??"
      }
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(null, newrelic_capture_params(), 'returns null');
newrelic_notice_error('forced');
