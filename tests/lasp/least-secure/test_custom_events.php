<?php
/*DESCRIPTION
The custom_events policy enabled: newrelic_record_custom_event() records
the event.
*/

/*EXPECT
done
*/

/*EXPECT_CUSTOM_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      {"type": "Order", "timestamp": "??"},
      {"total": 9},
      {}
    ]
  ]
]
*/

newrelic_record_custom_event('Order', array('total' => 9));
echo "done\n";
