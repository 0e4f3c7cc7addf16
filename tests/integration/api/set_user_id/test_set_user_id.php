<?php
/*DESCRIPTION
newrelic_set_user_id() sets the enduser.id agent attribute of the
transaction event, traces, errors and the root span. The value must be a
non-empty string of at most 255 bytes; anything else returns false and
changes nothing (the last valid call wins).
*/

/*EXPECT
ok - set
ok - empty refused
ok - integer refused
ok - too long refused
ok - no args refused
ok - reset
*/

/*EXPECT_METRICS_EXIST
Supportability/api/set_user_id, 6
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  "?? sampling information",
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
      {
        "enduser.id": "user-2"
      }
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
    {},
    {
      "enduser.id": "user-2"
    }
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_assert(newrelic_set_user_id('user-1'), 'set');
tap_identical(false, newrelic_set_user_id(''), 'empty refused');
tap_identical(false, newrelic_set_user_id(42), 'integer refused');
tap_identical(false, newrelic_set_user_id(str_repeat('x', 256)), 'too long refused');
tap_identical(false, @newrelic_set_user_id(), 'no args refused');
tap_assert(newrelic_set_user_id('user-2'), 'reset');
