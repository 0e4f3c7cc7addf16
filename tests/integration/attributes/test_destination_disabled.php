<?php
/*DESCRIPTION
A destination with attributes switched off gets no user attributes (the
error trace here) while the others keep theirs. The new setting wins over
the deprecated capture_attributes one (transaction events).
*/

/*INI
newrelic.error_collector.attributes.enabled = 0
newrelic.transaction_events.attributes.enabled = 1
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
        "error": true
      },
      {
        "hat": "who"
      },
      {"errorType": "NoticedError", "errorMessage": "no attributes here"}
    ]
  ]
]
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "OtherTransaction/php__FILE__",
      "no attributes here",
      "NoticedError",
      {
        "stack_trace": "??",
        "agentAttributes": "??",
        "userAttributes": {},
        "intrinsics": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

newrelic_add_custom_parameter('hat', 'who');
newrelic_notice_error('no attributes here');
