<?php
/*DESCRIPTION
newrelic_notice_error used directly as the error handler: PHP calls it
with ($errno, $errstr, $errfile, $errline) and the agent records a
NoticedError; the stack shows the handler call (which has no file),
trigger_error and the user function.
*/

/*EXPECT
done
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "OtherTransaction/php__FILE__",
      "handled error",
      "NoticedError",
      {
        "stack_trace": [
          " in newrelic_notice_error called at ? (?)",
          " in trigger_error called at __FILE__ (??)",
          " in a called at __FILE__ (??)"
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
        "error.class": "NoticedError",
        "error.message": "handled error",
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

function a()
{
    trigger_error("handled error", E_USER_WARNING);
}

set_error_handler('newrelic_notice_error', E_USER_WARNING);
a();
echo "done\n";
