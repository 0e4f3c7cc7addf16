<?php
/*DESCRIPTION
Include and exclude rules of one destination apply to that destination
only: color leaves transaction events, size error traces, shape.* span
events. An attribute both included and excluded is excluded, even when
the include names one destination and the exclude all of them (weight).
*/

/*INI
newrelic.attributes.exclude = weight
newrelic.transaction_events.attributes.exclude = color
newrelic.transaction_events.attributes.include = weight
newrelic.error_collector.attributes.exclude = size
newrelic.span_events.attributes.exclude = shape.*
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
        "size": 9,
        "shape.kind": "round"
      },
      {"errorType": "NoticedError", "errorMessage": "per destination"}
    ]
  ]
]
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "OtherTransaction/php__FILE__",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "nr.entryPoint": true,
      "transaction.name": "OtherTransaction/php__FILE__"
    },
    {
      "color": "red",
      "size": 9
    },
    {
      "error.message": "per destination",
      "error.class": "NoticedError"
    }
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
      "per destination",
      "NoticedError",
      {
        "stack_trace": "??",
        "agentAttributes": "??",
        "userAttributes": {
          "color": "red",
          "shape.kind": "round"
        },
        "intrinsics": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

newrelic_add_custom_parameter('color', 'red');
newrelic_add_custom_parameter('size', 9);
newrelic_add_custom_parameter('shape.kind', 'round');
newrelic_add_custom_parameter('weight', 1.5);
newrelic_notice_error('per destination');
