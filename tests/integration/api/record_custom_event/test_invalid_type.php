<?php
/*DESCRIPTION
A custom event whose type is not made of letters, digits, colons,
underscores and spaces is dropped; a valid one in the same transaction is
kept.
*/

/*EXPECT
done
*/

/*EXPECT_CUSTOM_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {"type": "Valid_Type: 1", "timestamp": "??"},
      {"k": "v"},
      {}
    ]
  ]
]
*/

newrelic_record_custom_event('invalid-type!', array('k' => 'v'));
newrelic_record_custom_event('Valid_Type: 1', array('k' => 'v'));
echo "done\n";
