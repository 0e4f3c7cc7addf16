<?php
/*DESCRIPTION
newrelic_enable_params(), the deprecated name of newrelic_capture_params,
counts under its own name and captures request parameters the same way;
an ignored_params entry keeps one of them out.
*/

/*INI
newrelic.ignored_params = secret
*/

/*ENVIRONMENT
REQUEST_METHOD=POST
QUERY_STRING=q=shoes&secret=hunter2
*/

/*EXPECT
ok - enabled
*/

/*EXPECT_METRICS_EXIST
Supportability/api/enable_params, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/api/capture_params
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
          "request.parameters.q": "shoes",
          "response.headers.contentType": "??",
          "response.statusCode": 200,
          "http.statusCode": 200,
          "httpResponseCode": "200",
          "request.uri": "??",
          "request.method": "POST",
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

newrelic_enable_params(true);
tap_ok('enabled');
newrelic_notice_error('forced');
