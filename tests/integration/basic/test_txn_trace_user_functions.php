<?php
/*DESCRIPTION
With a 1 ms trace threshold a slow transaction is traced: the trace's
root holds the transaction node and under it one node per user function
call (Custom/a -> Custom/b -> Custom/c, twice). User functions produce
spans but no metrics.
*/

/*INI
newrelic.transaction_tracer.threshold = 1ms
*/

/*EXPECT
done
*/

/*EXPECT_METRICS_DONT_EXIST
Custom/a
Custom/b
Custom/c
*/

/*EXPECT_TXN_TRACES
[
  "?? agent run id",
  [
    [
      "?? start time",
      "?? duration",
      "OtherTransaction/php__FILE__",
      "<unknown>",
      [
        [
          0, {}, {},
          [
            "?? start", "?? end", "ROOT", {},
            [
              [
                "?? start", "?? end", "`0", {},
                [
                  ["?? start", "?? end", "`1", {},
                    [["?? start", "?? end", "`2", {},
                      [["?? start", "?? end", "`3", {}, []]]]]],
                  ["?? start", "?? end", "`1", {},
                    [["?? start", "?? end", "`2", {},
                      [["?? start", "?? end", "`3", {}, []]]]]]
                ]
              ]
            ]
          ],
          {
            "intrinsics": {
              "totalTime": "??",
              "cpu_time": "??",
              "cpu_user_time": "??",
              "cpu_sys_time": "??",
              "guid": "??",
              "sampled": true,
              "priority": "??",
              "traceId": "??"
            }
          }
        ],
        [
          "OtherTransaction/php__FILE__",
          "Custom/a",
          "Custom/b",
          "Custom/c"
        ]
      ],
      "?? txn guid",
      null,
      false,
      null,
      null
    ]
  ]
]
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [{"category": "generic", "type": "Span", "guid": "??", "traceId": "??", "transactionId": "??",
    "name": "Custom/a", "timestamp": "??", "duration": "??", "priority": "??", "sampled": true,
    "parentId": "??"}, {}, {}],
  [{"category": "generic", "type": "Span", "guid": "??", "traceId": "??", "transactionId": "??",
    "name": "Custom/a", "timestamp": "??", "duration": "??", "priority": "??", "sampled": true,
    "parentId": "??"}, {}, {}],
  [{"category": "generic", "type": "Span", "guid": "??", "traceId": "??", "transactionId": "??",
    "name": "Custom/c", "timestamp": "??", "duration": "??", "priority": "??", "sampled": true,
    "parentId": "??"}, {}, {}]
]
*/

function c()
{
    usleep(5000);
}

function b()
{
    usleep(3000);
    c();
}

function a()
{
    usleep(2000);
    b();
}

a();
a();
echo "done\n";
