<?php
/*DESCRIPTION
With the error collector off, errors are not recorded at all: no error
trace, no error event, no Errors metrics, and the transaction event says
error false.
*/

/*INI
newrelic.error_collector.enabled = 0
*/

/*EXPECT
done
*/

/*EXPECT_TRACED_ERRORS null*/

/*EXPECT_ERROR_EVENTS null*/

/*EXPECT_METRICS_DONT_EXIST
Errors/all
Errors/allOther
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {
        "type": "Transaction",
        "name": "OtherTransaction/php__FILE__",
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
      {}
    ]
  ]
]
*/

newrelic_notice_error('not collected');
echo "done\n";
