<?php
/*DESCRIPTION
newrelic_ignore_apdex() on a web request: the transaction is still sent,
but without Apdex metrics and without nr.apdexPerfZone in its event.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT
ok - returns null
*/

/*EXPECT_METRICS_EXIST
Supportability/api/ignore_apdex, 1
WebTransaction, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Apdex
Apdex/Uri__FILE__
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      {
        "type": "Transaction",
        "name": "WebTransaction/Uri__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "error": false
      },
      {},
      "??"
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(null, newrelic_ignore_apdex(), 'returns null');
