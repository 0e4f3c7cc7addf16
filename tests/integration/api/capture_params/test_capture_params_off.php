<?php
/*DESCRIPTION
newrelic_capture_params(false) keeps request parameters out even with
newrelic.capture_params on in php.ini.
*/

/*INI
newrelic.capture_params = 1
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
QUERY_STRING=color=blue
*/

/*EXPECT
ok - off
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

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

newrelic_capture_params(false);
tap_ok('off');
newrelic_notice_error('forced');
