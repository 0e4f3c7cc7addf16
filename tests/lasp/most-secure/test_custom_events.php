<?php
/*DESCRIPTION
The custom_events policy disabled: newrelic_record_custom_event() records
nothing and, as in New Relic's agent, is not even counted.
*/

/*EXPECT
done
*/

/*EXPECT_CUSTOM_EVENTS null*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/api/record_custom_event
*/

newrelic_record_custom_event('Order', array('total' => 9));
echo "done\n";
