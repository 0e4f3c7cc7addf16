<?php
/*DESCRIPTION
A user function that an uncaught exception leaves is kept as a span even
when it is faster than newrelic.special.expensive_node_min (New Relic's
agent keeps every segment that carries an error), and that span carries
the error attributes.
*/

/*EXPECT_REGEX
^about to throw\s+(PHP )?Fatal error:\s+Uncaught RuntimeException: uncaught boom
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
      "name": "Custom/fail",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {
      "error.message": "Uncaught exception 'RuntimeException' with message 'uncaught boom' in __FILE__:??",
      "error.class": "RuntimeException"
    }
  ]
]
*/

function fail()
{
    throw new RuntimeException('uncaught boom');
}

echo "about to throw\n";
fail();
