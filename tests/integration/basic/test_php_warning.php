<?php
/*DESCRIPTION
A PHP warning (E_USER_WARNING from trigger_error) is recorded as the
transaction's error, classed by its error level, with the stack of the
trigger_error call.
*/

/*EXPECT_REGEX
^\s*(PHP )?Warning:\s+user warning here in .*test_php_warning.php on line \d+\s+done\s*$
*/

/*EXPECT_METRICS_EXIST
Errors/all, 1
Errors/allOther, 1
Errors/OtherTransaction/php__FILE__, 1
ErrorsByCaller/Unknown/Unknown/Unknown/Unknown/all, 1
ErrorsByCaller/Unknown/Unknown/Unknown/Unknown/allOther, 1
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "OtherTransaction/php__FILE__",
      "user warning here",
      "E_USER_WARNING",
      {
        "stack_trace": [
          " in trigger_error called at __FILE__ (??)"
        ],
        "agentAttributes": "??",
        "intrinsics": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

/*EXPECT_ERROR_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 100, "events_seen": 1},
  [
    [
      {
        "type": "TransactionError",
        "timestamp": "??",
        "error.class": "E_USER_WARNING",
        "error.message": "user warning here",
        "transactionName": "OtherTransaction/php__FILE__",
        "duration": "??",
        "nr.transactionGuid": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "spanId": "??"
      },
      {},
      {}
    ]
  ]
]
*/

trigger_error('user warning here', E_USER_WARNING);
echo "done\n";
