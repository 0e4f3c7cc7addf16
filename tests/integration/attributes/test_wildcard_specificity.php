<?php
/*DESCRIPTION
Global include and exclude rules: an exact name or a wildcard prefix; when
several rules match, the most specific one wins (the longer pattern, an
exact name over a wildcard of the same prefix) and for the same pattern
exclude wins over include. Every destination applies them: the
transaction event, the root span and the error trace.
*/

/*INI
newrelic.attributes.include = secret.shared*, pii.email, plain
newrelic.attributes.exclude = secret*, pii.*, plain
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
        "secret.shared.key": "s2",
        "pii.email": "a@b.c",
        "other": "o"
      },
      {"errorType": "NoticedError", "errorMessage": "filtered"}
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
      "secret.shared.key": "s2",
      "pii.email": "a@b.c",
      "other": "o"
    },
    {
      "error.message": "filtered",
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
      "filtered",
      "NoticedError",
      {
        "stack_trace": "??",
        "agentAttributes": "??",
        "userAttributes": {
          "secret.shared.key": "s2",
          "pii.email": "a@b.c",
          "other": "o"
        },
        "intrinsics": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

newrelic_add_custom_parameter('secret.key', 's1');
newrelic_add_custom_parameter('secret.shared.key', 's2');
newrelic_add_custom_parameter('pii.email', 'a@b.c');
newrelic_add_custom_parameter('pii.phone', '555');
newrelic_add_custom_parameter('plain', 'p');
newrelic_add_custom_parameter('other', 'o');
newrelic_notice_error('filtered');
