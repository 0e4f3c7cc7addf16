<?php
/*DESCRIPTION
With a security policies token request parameters are never captured,
whatever the policies: newrelic.capture_params = 1 and
newrelic_capture_params() change nothing.
*/

/*INI
newrelic.capture_params = 1
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
QUERY_STRING=card=4111111111111111
*/

/*EXPECT
done
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "WebTransaction/Uri__FILE__",
      "??",
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

newrelic_capture_params(true);
newrelic_notice_error('forced');
echo "done\n";
