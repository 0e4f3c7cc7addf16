<?php
/*DESCRIPTION
Without the new setting, the deprecated capture_attributes one still
switches a destination's attributes off.
*/

/*INI
newrelic.analytics_events.capture_attributes = 0
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

newrelic_add_custom_parameter('hat', 'who');
