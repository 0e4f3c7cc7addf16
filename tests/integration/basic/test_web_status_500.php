<?php
/*DESCRIPTION
A web response with status 500 set by the script is not an error for the
agent: no error trace, no error event, no Errors metrics; the status only
shows in the response attributes. Apdex still counts the request as
satisfying.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT
server error
*/

/*EXPECT_METRICS_EXIST
WebTransaction/Uri__FILE__, 1
HttpDispatcher, 1
Apdex
*/

/*EXPECT_METRICS_DONT_EXIST
Errors/all
Errors/allWeb
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
        "http.statusCode": 500,
        "response.statusCode": 500,
        "httpResponseCode": "500",
        "request.uri": "__FILE__",
        "request.method": "GET",
        "request.headers.host": "127.0.0.1"
      }
    ]
  ]
]
*/

/*EXPECT_TRACED_ERRORS null*/

/*EXPECT_ERROR_EVENTS null*/

http_response_code(500);
echo "server error\n";
