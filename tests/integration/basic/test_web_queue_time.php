<?php
/*DESCRIPTION
A web request carrying X-Request-Start (set by a front-end server) records
the time it queued: the WebFrontend/QueueTime metric and the queueDuration
intrinsic of the transaction event.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*HEADERS
X-Request-Start=t=1368811467146000
*/

/*EXPECT
queued
*/

/*EXPECT_METRICS_EXIST
WebFrontend/QueueTime, 1
WebTransaction/Uri__FILE__, 1
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
        "queueDuration": "??",
        "nr.apdexPerfZone": "??",
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

echo "queued\n";
