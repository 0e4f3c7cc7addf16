<?php
/*DESCRIPTION
newrelic_notice_error($exception) records the exception: its class, the
message "Noticed exception '<class>' with message '<message>' in
<file>:<line>" and the exception's own stack trace.
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
      "Noticed exception 'LogicException' with message '1 arg exception' in __FILE__:??",
      "LogicException",
      {
        "stack_trace": [
          " in make called at __FILE__ (??)"
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
        "error.class": "LogicException",
        "error.message": "Noticed exception 'LogicException' with message '1 arg exception' in __FILE__:??",
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

/*EXPECT_METRICS_EXIST
Errors/all, 1
Supportability/api/notice_error, 1
*/

function make()
{
    return new LogicException('1 arg exception');
}

newrelic_notice_error(make());
echo "done\n";
