<?php
/*DESCRIPTION
Only one error is kept per transaction, the one with the highest
priority: an uncaught exception beats a noticed error, which beats a
warning. Errors/all still counts one.
*/

/*EXPECT_REGEX
^\s*(PHP )?Warning:\s+user warning here.*\s+about to throw\s+(PHP )?Fatal error:\s+Uncaught RuntimeException: boom
*/

/*EXPECT_METRICS_EXIST
Errors/all, 1
Supportability/api/notice_error, 1
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "OtherTransaction/php__FILE__",
      "Uncaught exception 'RuntimeException' with message 'boom' in __FILE__:??",
      "RuntimeException",
      {
        "stack_trace": "??",
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
        "error.class": "RuntimeException",
        "error.message": "Uncaught exception 'RuntimeException' with message 'boom' in __FILE__:??",
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
newrelic_notice_error('noticed');
echo "about to throw\n";
throw new RuntimeException('boom');
