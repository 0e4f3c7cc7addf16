<?php
/*DESCRIPTION
newrelic_add_custom_parameter() adds user attributes (strings, ints,
floats, booleans) to the transaction event, the root span and error
traces; each call counts in Supportability/api/add_custom_parameter.
*/

/*EXPECT
ok - int
ok - string
ok - float
ok - bool
*/

/*EXPECT_METRICS_EXIST
Supportability/api/add_custom_parameter, 4
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
        "beta": true,
        "ratio": 0.25,
        "plan": "gold",
        "user_id": 42
      },
      {"errorType": "NoticedError", "errorMessage": "with attributes"}
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
      "beta": true,
      "ratio": 0.25,
      "plan": "gold",
      "user_id": 42
    },
    {
      "error.message": "with attributes",
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
      "with attributes",
      "NoticedError",
      {
        "stack_trace": "??",
        "agentAttributes": "??",
        "userAttributes": {
          "beta": true,
          "ratio": 0.25,
          "plan": "gold",
          "user_id": 42
        },
        "intrinsics": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_assert(newrelic_add_custom_parameter('user_id', 42), 'int');
tap_assert(newrelic_add_custom_parameter('plan', 'gold'), 'string');
tap_assert(newrelic_add_custom_parameter('ratio', 0.25), 'float');
tap_assert(newrelic_add_custom_parameter('beta', true), 'bool');
newrelic_notice_error('with attributes');
