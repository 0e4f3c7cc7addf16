<?php
/*DESCRIPTION
The four-argument form newrelic_notice_error($errno, $errstr, $errfile,
$errline) (an error handler's arguments on PHP 8, which passes no context)
records a NoticedError with the given message.
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
      "4 arg error",
      "NoticedError",
      {
        "stack_trace": [
          " in newrelic_notice_error called at __FILE__ (??)",
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
      {},
      {"errorType": "NoticedError", "errorMessage": "4 arg error"}
    ]
  ]
]
*/

function a()
{
    newrelic_notice_error(42, "4 arg error", "file", __LINE__);
}

a();
echo "done\n";
