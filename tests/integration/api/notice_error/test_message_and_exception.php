<?php
/*DESCRIPTION
newrelic_notice_error('message', $exception): the exception wins; the
message argument is ignored.
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
      "Noticed exception 'Exception' with message '2 arg exception' in __FILE__:??",
      "Exception",
      {
        "stack_trace": [
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

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Custom/a",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {
      "error.message": "Noticed exception 'Exception' with message '2 arg exception' in __FILE__:??",
      "error.class": "Exception"
    }
  ]
]
*/

function a()
{
    newrelic_notice_error("2 arg", new Exception("2 arg exception"));
}

a();
echo "done\n";
